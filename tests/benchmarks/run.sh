#!/usr/bin/env bash
# Builds Berth in Release and runs every benchmark: tests/benchmarks/run.sh [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/installer/deps.sh" valgrind   # valgrind: the instruction counts (callgrind) below
build="$root/build-bench"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j2 --target bench_shutdown bench_network
"$build/tests/benchmarks/bench_shutdown" "${1:-5}"
"$build/tests/benchmarks/bench_network" "${1:-5}"

# Instructions per request on the thread that owns the session, counted by callgrind: 2 000
# GETs to /fast at 64 concurrent, after a warm-up: at 6 connections through a bare
# QNetworkAccessManager, send() and manager()->get(); at 64, send() and bare managers in the
# session's layout ("lanes"). Unlike the req/s above they do not move with the machine's load
# (runs differ by ~1 %, in how the event loop batches what arrives).
echo "instructions per request on the owning thread (callgrind, 3 runs each, median)"
declare -A med
for variant in bare send direct lanes send64; do
    counts=()
    for run in 1 2 3; do
        out=$(valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
              "$build/tests/benchmarks/bench_network" --role=calls "$variant" 2000 2>&1)
        grep -q "2000 requests, errors 0" <<<"$out" || { echo "$variant: the run failed:"; echo "$out" | tail -5; exit 1; }
        counts+=("$(grep -oE 'Collected : [0-9]+' <<<"$out" | awk '{print int($3 / 2000)}')")
    done
    med[$variant]=$(printf '%s\n' "${counts[@]}" | sort -n | sed -n 2p)
    echo "  $variant: ${med[$variant]} (runs ${counts[*]})"
done
awk -v b="${med[bare]}" -v s="${med[send]}" -v d="${med[direct]}" -v l="${med[lanes]}" -v s64="${med[send64]}" \
    'BEGIN { printf "  send() x%.3f of bare (+%d); manager()->get() x%.3f of bare (+%d); send() at 64 per host x%.3f of bare managers in its layout (+%d)\n", s / b, s - b, d / b, d - b, s64 / l, s64 - l }'
