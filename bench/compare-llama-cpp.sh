#!/usr/bin/env bash
# etch's integer engine (the chip's software twin) against llama.cpp on the same machine, in one
# run: kjv-8m etched with hc1 against llama.cpp's Q4_0 file of the same model. llama-bench and
# `etch bench` run alternately, round after round, at 1 and 2 threads (pp256, tg128), then
# etch's batched decode (8 and 32 sequences), then the 2-thread figures again with a background
# compile on every core. Prints each figure and the ratios.
#
# llama.cpp is a benchmark baseline, not a dependency: it is built outside the repository, at a
# pinned commit, and the build is skipped when its binaries are already there.
#
# Usage: bench/compare-llama-cpp.sh [options]
#   --etch PATH          the etch binary (default: build/etch)
#   --llama-build DIR    llama.cpp build folder (default: $TMPDIR/etch-llama.cpp/build); used as
#                        is when DIR/bin/llama-bench exists
#   --llama-src DIR      llama.cpp source to configure and build there (default: a clone of
#                        --llama-url at --llama-commit beside the build folder)
#   --llama-url URL      (default: https://github.com/ggml-org/llama.cpp)
#   --llama-commit SHA   (default: the pinned commit below)
#   --rounds N           alternating rounds per figure (default 2)
#   --work DIR           where the .etch file is written (default: $TMPDIR/etch-compare)
# ETCH_FIXTURES points at the fixtures (default: ../shared/fixtures beside the repository).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=${TMPDIR:-/tmp}
etch=$repo/build/etch
llama_build=$tmp/etch-llama.cpp/build
llama_src=
llama_url=https://github.com/ggml-org/llama.cpp
llama_commit=3f545beccee69d9975f466ec7e45fd9aacd8ba90
rounds=2
work=$tmp/etch-compare
fixtures=${ETCH_FIXTURES:-$repo/../shared/fixtures}

while [[ $# -gt 0 ]]; do
  case $1 in
    --etch) etch=$2; shift 2 ;;
    --llama-build) llama_build=$2; shift 2 ;;
    --llama-src) llama_src=$2; shift 2 ;;
    --llama-url) llama_url=$2; shift 2 ;;
    --llama-commit) llama_commit=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare-llama-cpp: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "compare-llama-cpp: $*" >&2; exit 1; }

model_dir=$fixtures/models/kjv-8m
gguf=$model_dir/kjv-8m-q4_0.gguf
[[ -x $etch ]] || die "no etch binary at $etch (build it, or pass --etch)"
[[ -f $gguf ]] || die "no $gguf (set ETCH_FIXTURES)"

# ---- llama.cpp ----
llama_bench=$llama_build/bin/llama-bench
if [[ ! -x $llama_bench ]]; then
  if [[ -z $llama_src ]]; then
    llama_src=$(dirname "$llama_build")/src
    if [[ ! -d $llama_src/.git ]]; then
      git clone --filter=blob:none "$llama_url" "$llama_src"
    fi
    git -C "$llama_src" -c advice.detachedHead=false checkout "$llama_commit"
  fi
  # These CPUs advertise AMX but fault on its tile instructions (SIGILL in ggml's AMX Q4_0
  # kernel): native code without AMX.
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  cmake -S "$llama_src" -B "$llama_build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DCMAKE_C_FLAGS="$no_amx" -DCMAKE_CXX_FLAGS="$no_amx" -DLLAMA_CURL=OFF
  cmake --build "$llama_build" -j "$(nproc)" --target llama-bench
fi
[[ -x $llama_bench ]] || die "no llama-bench at $llama_bench after the build"

# ---- the etched model ----
mkdir -p "$work"
etched=$work/kjv-8m-hc1.etch
if [[ ! -f $etched ]]; then
  "$etch" build "$model_dir/kjv-8m-bf16.gguf" --recipe hc1 -o "$etched" >&2
fi

# ---- measurements ----
# One llama-bench figure: tokens/s of pp256 (prompt) or tg128 (decode) at $2 threads.
llama_figure() {
  local kind=$1 threads=$2 args
  if [[ $kind == prompt ]]; then args="-p 256 -n 0"; else args="-p 0 -n 128"; fi
  # shellcheck disable=SC2086
  "$llama_bench" -m "$gguf" -t "$threads" $args -r 3 -o csv 2>/dev/null |
    awk -F, '{ gsub(/"/, "") }
             NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "avg_ts") c = i; next }
             c { print $c; exit }'
}

# One `etch bench` figure; $3: sequences decoded together (decode only).
etch_figure() {
  local kind=$1 threads=$2 sequences=${3:-1} key
  if [[ $kind == prompt ]]; then key=prompt_tokens_per_second; else key=decode_tokens_per_second; fi
  "$etch" bench -t "$threads" -p 256 -n 128 -r 3 -s "$sequences" --json "$etched" 2>/dev/null |
    sed -n "s/^ *\"$key\": \([0-9.e+-]*\),\{0,1\}$/\1/p"
}

# Mean of the numbers given.
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f", s / NR }'; }

# Alternates llama.cpp and etch for `rounds` rounds; prints one table row.
compare() {
  local kind=$1 threads=$2 label=$3 l=() e=() r
  for ((r = 0; r < rounds; ++r)); do
    l+=("$(llama_figure "$kind" "$threads")")
    e+=("$(etch_figure "$kind" "$threads")")
  done
  printf '%-34s %10s %10s %7s   (llama.cpp: %s; etch: %s)\n' "$label" "$(mean "${l[@]}")" \
    "$(mean "${e[@]}")" "$(awk -v a="$(mean "${e[@]}")" -v b="$(mean "${l[@]}")" \
    'BEGIN { printf "%.2fx", a / b }')" "${l[*]}" "${e[*]}"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "llama.cpp $(git -C "${llama_src:-$llama_build/..}" rev-parse --short HEAD 2>/dev/null ||
  echo "(prebuilt at $llama_build)") Q4_0 vs etch hc1, kjv-8m, $rounds alternating rounds"
printf '%-34s %10s %10s %7s\n' "tokens/s" "llama.cpp" "etch" "ratio"
for threads in 1 2; do
  compare prompt "$threads" "prompt (pp256), $threads thread(s)"
  compare decode "$threads" "decode (tg128), $threads thread(s)"
done

for sequences in 8 32; do
  for threads in 1 2; do
    total=$(etch_figure decode "$threads" "$sequences")
    printf 'etch decode, %2d sequences, %d thread(s): %s tokens/s in all, %s per sequence\n' \
      "$sequences" "$threads" "$(mean "$total")" "$(awk -v t="$total" -v s="$sequences" \
      'BEGIN { printf "%.0f", t / s }')"
  done
done

# A background compile on every core, as a user's machine has while they try the twin.
compile_load() {
  local source=$work/load.cpp
  printf '#include <bits/stdc++.h>\n#include <regex>\nstd::regex r("(a|b)*c");\n' >"$source"
  while :; do c++ -std=c++20 -O2 -c "$source" -o /dev/null 2>/dev/null || true; done
}
pids=()
for ((i = 0; i < $(nproc); ++i)); do compile_load & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
sleep 2
echo "with a background compile on each of the $(nproc) cores:"
compare decode 2 "decode (tg128), 2 threads, loaded"
compare decode 1 "decode (tg128), 1 thread, loaded"
