#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the whole test suite: a normal build, the POSIX
# signal tests once more without ppoll() (the macOS path), and an AddressSanitizer +
# UndefinedBehaviorSanitizer build. All must be clean.
# The Windows layer's Win32 core is cross-compiled with mingw-w64 and tested under wine.
# Usage: tests/run.sh [normal|fallback|asan|windows|tsan]   (default: all but tsan, which is opt-in)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/installer/deps.sh" python3-h2   # python3-h2: the HTTP/2 test server (tests/h2server.py)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
which=${1:-all}
# Everything a test needs is installed above: a missing TLS backend or python3-h2 fails the
# test instead of skipping it (tests/prerequisite.h).
export BERTH_TESTS_STRICT=1

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
if [ "$which" = all ] || [ "$which" = fallback ]; then
    # The POSIX path without ppoll(), as macOS runs it: the signal tests only.
    echo "=== fallback (no ppoll) build"
    cmake -S "$root" -B "$root/build-noppoll" -G Ninja -DBERTH_DEVELOPER_MODE=ON "${launcher[@]}" \
          -DCMAKE_BUILD_TYPE=Debug -DBERTH_HAVE_PPOLL=0 -DBERTH_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build "$root/build-noppoll" -j2 --target tst_signalsource tst_signalchildren tst_e2e_signals berth custom_berth
    echo "=== fallback (no ppoll) tests"
    (cd "$root/build-noppoll" && ctest --output-on-failure -j2 --timeout 300 -R 'tst_signalsource|tst_signalchildren|tst_e2e_signals')
fi
if [ "$which" = all ] || [ "$which" = asan ]; then
    export ASAN_OPTIONS="detect_leaks=1:strict_init_order=1:check_initialization_order=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
    run_suite asan "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON -DBERTH_BUILD_BENCHMARKS=OFF
fi
if [ "$which" = all ] || [ "$which" = windows ]; then
    # Installs mingw-w64 and wine if missing; builds in build-win/ (tests/windows/run.sh).
    "$root/tests/windows/run.sh"
fi
if [ "$which" = tsan ]; then
    # Opt-in (not part of "all"): ThreadSanitizer over the whole suite.
    export TSAN_OPTIONS="die_after_fork=0 suppressions=$root/tests/tsan.supp"
    run_suite tsan "$root/build-tsan" -DCMAKE_BUILD_TYPE=Debug -DBERTH_BUILD_BENCHMARKS=OFF \
        -DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
fi

