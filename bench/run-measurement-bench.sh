#!/usr/bin/env bash
# What one analysis measurement costs MC: the Prometheus provider and the evaluator against a
# real Prometheus, MC_BENCH_MEASUREMENTS times (default 500); prints CPU time (process user +
# system) and wall time per measurement and the bytes of Prometheus's answer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MC_BUILD_TARGET="mc-measurement-bench" scripts/build.sh >/dev/null
"${MC_BUILD_DIR:-build}/bench/mc-measurement-bench" --measurements "${MC_BENCH_MEASUREMENTS:-500}"
