#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the whole test suite twice: a normal build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build. Both must be clean.
# Usage: tests/run.sh [normal|asan]   (default: both)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/installer/deps.sh"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
which=${1:-all}

run_suite() {   # name, build dir, cmake args...
    local name=$1 dir=$2
    shift 2
    echo "=== $name build"
    cmake -S "$root" -B "$dir" -G Ninja -DBERTH_DEVELOPER_MODE=ON "${launcher[@]}" "$@" >/dev/null
    cmake --build "$dir" -j2
    echo "=== $name tests"
    (cd "$dir" && ctest --output-on-failure -j2 --timeout 300)
}

if [ "$which" = all ] || [ "$which" = normal ]; then
    run_suite normal "$root/build" -DCMAKE_BUILD_TYPE=Debug
fi
if [ "$which" = all ] || [ "$which" = asan ]; then
    export ASAN_OPTIONS="detect_leaks=1:strict_init_order=1:check_initialization_order=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
    run_suite asan "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON -DBERTH_BUILD_BENCHMARKS=OFF
fi
