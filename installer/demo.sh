#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Berth and runs the demo host on its built-in config.
# Stop it with Ctrl+C (twice cancels what is left, three times finishes at once).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/installer/deps.sh"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# A build directory of its own: the test builds use other settings (Debug, warnings as errors).
build="$root/build-demo"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_DEVELOPER_MODE=OFF \
      -DBERTH_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j2 --target berth
exec "$build/host/app/berth" run "$@"
