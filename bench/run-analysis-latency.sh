#!/usr/bin/env bash
# Analysis detection and reaction on the local control plane with a real Prometheus (1 s scrapes)
# and mc-demo-app under load: for background analyses measuring every 10 s and every 30 s,
# MC_BENCH_RUNS runs each (default 3), prints per run and min / median / max:
#   detection: the bad revision's first 5xx answer -> the first Failed measurement
#              (goal: <= interval + 2 scrape intervals)
#   reaction:  that measurement -> MC's first write taking the canary's ReplicaSet down, by the
#              apiserver's audit log (goal: <= 1 s)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MC_BUILD_TARGET="analysis_e2e_test mc-operator kubectl-mc mc-demo-app" scripts/build.sh >/dev/null
build/tests/analysis_e2e_test --gtest_also_run_disabled_tests \
  --gtest_filter='*DetectionAndReaction*' | grep -E '^analysis-latency|OK|FAILED'
