#!/usr/bin/env bash
# Installs what Maestro Conductor needs on Debian bookworm and builds the Go test tools.
# Idempotent: a second run installs nothing and reuses the tool cache
# (${MC_CACHE:-$HOME/.cache/mc}, outside the clone, like Go's own caches).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  # build
  cmake ninja-build ccache g++ pkg-config clang-format
  # the libFuzzer target (scripts/fuzz.sh): clang and its sanitizer and fuzzer runtimes
  clang-14 libclang-rt-14-dev
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev prometheus-cpp-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libhowardhinnant-date-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the real parts the tests talk to, and the tools the scripts use
  prometheus docker-registry openssl curl ca-certificates procps util-linux coreutils lua5.1
  python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing ${#missing[@]} Debian packages (a few minutes on a fresh machine): ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Go builds the test tools only (MC itself is C++). The Go toolchain comes with the machine;
# Debian's golang is too old for Kubernetes 1.33.
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "[setup] the Go toolchain (go >= 1.26, which cosign v3 needs) is required" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "[setup] kubectl is required on the PATH" >&2; exit 1; }

# The tools the README's two commands need; a benchmark builds its own comparator on first use.
# A fresh machine takes about 10 minutes here (Kubernetes alone is about 5); the log says which tool
# it is on every 30 s.
echo "[setup] test tools (kube-apiserver, etcd, kwok, helm, cosign, crane, cosign3, route CRDs) into ${MC_CACHE:-$HOME/.cache/mc}/tools"
e2e/tools/build.sh >/dev/null
echo "[setup] ready: Debian packages installed, test tools in ${MC_CACHE:-$HOME/.cache/mc}/tools"
