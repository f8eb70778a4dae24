#!/usr/bin/env bash
# Builds Berth in Release and runs every benchmark: tests/benchmarks/run.sh [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/installer/deps.sh"
build="$root/build-bench"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j2 --target bench_shutdown bench_network
"$build/tests/benchmarks/bench_shutdown" "${1:-5}"
"$build/tests/benchmarks/bench_network" "${1:-5}"
