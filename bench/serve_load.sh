#!/usr/bin/env bash
# etch serve beside llama-server on kjv-8m, in one run, one server at a time (each has the
# machine to itself): bench/serve_load.mjs at 1, 8 and 64 concurrent streaming users.
#   bench/serve_load.sh ETCH [LLAMA_SERVER] [SECONDS=20]
# Servers: etch on the Hugging Face folder (float engine) and on an hc1 .etch (the chip's
# integer engine) built here; llama-server (when given) on the q4_0 and bf16 GGUFs.
# ETCH_FIXTURES as for the tests; THREADS (default: the cores) for every server alike.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
etch=${1:?usage: serve_load.sh ETCH [LLAMA_SERVER] [SECONDS]}
llama_server=${2:-}
seconds=${3:-20}
fixtures=${ETCH_FIXTURES:-$root/../shared/fixtures}
model=$fixtures/models/kjv-8m
threads=${THREADS:-$(nproc)}
users=${USERS:-1,8,64}
work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server (listening on $port) in the background and waits for GET /health to answer
# 200. Each server gets a fresh port: the last one's may still be held by closing connections.
port=18430
serve() {
  "$@" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health") == 200 ]]; then
      return
    fi
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "serve_load: server did not become ready" >&2
  exit 1
}
stop() {
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
}
measure() {
  node "$root/bench/serve_load.mjs" --url "http://127.0.0.1:$port" --label "$1" \
    --users "$users" --seconds "$seconds" $header
  header=
}

"$etch" build "$model/hf" --recipe hc1 -o "$work/kjv-8m-hc1.etch" >&2
header=--header
for target in "etch float (HF bf16)|$model/hf" "etch .etch hc1 (integer)|$work/kjv-8m-hc1.etch"; do
  port=$((port + 1))
  serve "$etch" serve "${target#*|}" --port "$port" --parallel 64 --queue 256 -t "$threads"
  measure "${target%%|*}"
  stop
done
if [[ -n $llama_server ]]; then
  for file in kjv-8m-q4_0.gguf kjv-8m-bf16.gguf; do
    # 64 slots of 256 tokens each: room for every prompt and its answer.
    port=$((port + 1))
    serve "$llama_server" -m "$model/$file" --port "$port" -np 64 -c 16384 -t "$threads" \
      -tb "$threads"
    measure "llama-server $file"
    stop
  done
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
