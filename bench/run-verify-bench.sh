#!/usr/bin/env bash
# What verifying an image's signature costs MC (issue 14): MC_BENCH_IMAGES signed images (default
# 50) on a real docker-registry, each resolved and verified cold, then again from the verifier's
# cache; prints wall and CPU time per digest, registry requests per canary, and how late a 1 ms
# timer on the io thread wakes meanwhile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MC_BUILD_TARGET="mc-verify-bench" scripts/build.sh >/dev/null
"${MC_BUILD_DIR:-build}/bench/mc-verify-bench" --images "${MC_BENCH_IMAGES:-50}"
