#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Berth and runs the demo host on its built-in config.
# Stop it with Ctrl+C (twice cancels what is left, three times finishes at once).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/installer/deps.sh"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build "$root/build" -j2 --target berth
exec "$root/build/host/app/berth" run "$@"
