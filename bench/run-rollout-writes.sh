#!/usr/bin/env bash
# Apiserver writes per canary step per Rollout, and reconcile latency: runs the e2e test that
# takes one Rollout (10 replicas, default steps 10/30/60/100, replica ratio) from v1 to v2 on the
# local control plane with mc-operator as the chart's ServiceAccount, and prints the writes the
# apiserver's audit log saw from that ServiceAccount (by verb and resource) next to MC's own
# mc_kube_requests_total. Goal: <= 3 writes per step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MC_BUILD_TARGET="rollout_e2e_test mc-operator kubectl-mc" scripts/build.sh >/dev/null
build/tests/rollout_e2e_test --gtest_filter='*WritesPerStep*' | grep -E '^rollout-writes|OK|FAILED'
