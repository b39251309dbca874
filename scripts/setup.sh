#!/usr/bin/env bash
# Installs every build and test dependency of etch from Debian 12's packages.
# Safe to run repeatedly; needs root (or sudo) for apt-get.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libcpp-httplib-dev  # etch serve's HTTP server
  libcli11-dev nlohmann-json3-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libxxhash-dev libpcre2-dev
  clang clang-format clang-tidy libclang-rt-14-dev libfuzzer-14-dev
  python3
  nodejs  # the openai npm client test of etch serve
  chromium  # the chat page test of etch serve, headless
  tmux  # the pseudo-terminal for the etch chat test
  libxml2-utils  # xmllint, which checks etch plan --svg output
  iproute2  # ss, which reads etch serve's listen backlog in the openai client test
  verilator yosys iverilog  # the RTL library's simulation, synthesis and parse tests
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  echo "setup: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ships with some Node.js builds; Debian's own nodejs needs the npm package beside it.
if ! command -v npm >/dev/null; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm
fi
# The official openai client at the version package-lock.json pins, into a folder git ignores.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(cd "$root/tests/serve/openai" && npm ci --no-audit --no-fund --silent)
