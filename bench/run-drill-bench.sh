#!/usr/bin/env bash
# Game-day drills on the local control plane with a real Prometheus (1 s scrapes) and
# mc-demo-app under load: `kubectl mc drill --set-env ERROR_RATE=0.2` against a background
# errorRate analysis measuring every 10 s and every 30 s, MC_BENCH_RUNS drills each (default 3).
# Prints per drill and min / median / max, from the drills' JSON reports:
#   time to detect:    the canary's start (MC's record) -> its first Failed measurement
#   time to roll back: the canary's start -> traffic back on the stable
# and, from the apiserver's audit log, the writes of MC per drill: AuditRecord creates (one per
# decision), AuditChain head updates (one per record) and Events.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MC_BUILD_TARGET="analysis_e2e_test mc-operator kubectl-mc mc-demo-app" scripts/build.sh >/dev/null
build/tests/analysis_e2e_test --gtest_also_run_disabled_tests \
  --gtest_filter='*DrillTimings*' | grep -E '^drill |OK|FAILED'
