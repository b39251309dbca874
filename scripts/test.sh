#!/usr/bin/env bash
# Builds etch and runs everything CI checks, in order:
#   0. every C++ source formatted as .clang-format says;
#   1. the test suite on a Release build;
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer, less the
#      full-text oracle tests (not even built there), whose code paths the unit tests cover, the
#      RTL simulations (generated Verilator models, proven in stage 1), and the server's
#      43-second load test (run in stage 1; the sanitized server is exercised by its other tests);
#   3. every libFuzzer target for ETCH_FUZZ_SECONDS (default 6) on seeds from the fixtures.
# Set ETCH_SKIP_SANITIZE=1 or ETCH_SKIP_FUZZ=1 to leave a stage out while developing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${ETCH_JOBS:-$(nproc)}
fuzz_seconds=${ETCH_FUZZ_SECONDS:-6}
fixtures=${ETCH_FIXTURES:-$root/../shared/fixtures}
export ETCH_FIXTURES=$fixtures

stage() { printf '\n== %s ==\n' "$*" >&2; }

stage "clang-format"
(cd "$root" && git ls-files -- '*.cpp' '*.hpp' '*.inc' | xargs clang-format --dry-run --Werror)

stage "release build and tests"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$jobs"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

if [[ -z ${ETCH_SKIP_SANITIZE:-} ]]; then
  stage "AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
  # -O1 -g1: sanitizer reports with line numbers, at a fraction of -O2's compile time.
  cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1" -DETCH_SANITIZE=ON -DETCH_BUILD_BENCH=OFF \
    -DETCH_BUILD_RTL_TESTS=OFF -DETCH_BUILD_ORACLE_TESTS=OFF >/dev/null
  cmake --build "$root/build-asan" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" --exclude-regex '^serve_load$'
fi

if [[ -z ${ETCH_SKIP_FUZZ:-} ]]; then
  stage "fuzzers, ${fuzz_seconds}s each"
  CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1" \
    -DCMAKE_CXX_COMPILER=clang++ -DETCH_FUZZ=ON -DETCH_BUILD_TESTS=OFF -DETCH_BUILD_BENCH=OFF >/dev/null
  cmake --build "$root/build-fuzz" -j "$jobs" --target etch_fuzzers
  for seeds in "$root"/fuzz/fuzz_*.seeds; do
    name=$(basename "$seeds" .seeds)
    corpus=$(mktemp -d)
    # Each line of a .seeds file names a fixture file (relative to the fixtures folder).
    while read -r seed; do
      [[ -z $seed || $seed == \#* ]] && continue
      cp "$fixtures/$seed" "$corpus/"
    done <"$seeds"
    # Seeds that are no fixture (request bodies) live beside the .seeds file.
    [[ -d $root/fuzz/$name.corpus ]] && cp "$root/fuzz/$name.corpus/"* "$corpus/"
    # Seeds made now (valid .etch files): fuzz/seeds_NAME.cpp's program writes them.
    [[ -x $root/build-fuzz/fuzz/etch_seeds_$name ]] && "$root/build-fuzz/fuzz/etch_seeds_$name" "$corpus"
    echo "fuzz: $name" >&2
    "$root/build-fuzz/fuzz/etch_$name" -max_total_time="$fuzz_seconds" -max_len=65536 \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
    rm -rf "$corpus"
  done
fi
echo "all checks passed" >&2
