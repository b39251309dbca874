#!/usr/bin/env bash
# Is etch's decode bound by memory bandwidth on a large model? Writes a random-weight model of
# Llama 3.2 1B's shape etched hc1-style (bench/make_random_etch.cpp; a temporary file, never
# committed), measures the machine's memory-read bandwidth (bench/memory_read_bandwidth.cpp)
# and etch's decode at 1 and 2 threads, alternately, and prints the fraction of the bandwidth
# that decode reaches: tokens/s x bytes read per token / bytes/s.
#
# Usage: bench/decode-bandwidth.sh [BUILD_DIR (default build; configured with
#        -DETCH_BUILD_BENCH=ON)] [ROUNDS (default 2)]
# ETCH_FIXTURES points at the fixtures (default: ../shared/fixtures beside the repository);
# the model goes to $TMPDIR (default /tmp).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
rounds=${2:-2}
export ETCH_FIXTURES=${ETCH_FIXTURES:-$repo/../shared/fixtures}
model=${TMPDIR:-/tmp}/etch-llama1b-random.etch
for tool in "$build/etch" "$build/bench/make_random_etch" "$build/bench/memory_read_bandwidth"; do
  [[ -x $tool ]] || { echo "decode-bandwidth: no $tool (build with -DETCH_BUILD_BENCH=ON)" >&2; exit 1; }
done

bytes=$("$build/bench/make_random_etch" "$model" | sed -n 's/^decode_bytes_per_token //p')
trap 'rm -f "$model"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: Llama 3.2 1B's shape, random hc3/hc6 codes; a decoded token reads $bytes bytes"
for threads in 1 2; do
  for ((r = 0; r < rounds; ++r)); do
    bandwidth=$("$build/bench/memory_read_bandwidth" "$threads")
    decode=$("$build/etch" bench -t "$threads" -p 8 -n 32 -r 2 --json "$model" 2>/dev/null |
      sed -n 's/^ *"decode_tokens_per_second": \([0-9.e+-]*\),\{0,1\}$/\1/p')
    awk -v t="$threads" -v bw="$bandwidth" -v tok="$decode" -v b="$bytes" 'BEGIN {
      printf "%d thread(s): read bandwidth %.2f GB/s, decode %.2f tokens/s = %.2f GB/s, %.0f%% of it\n",
        t, bw, tok, tok * b / 1e9, 100 * tok * b / 1e9 / bw }'
  done
done
