#!/usr/bin/env bash
# Set-up, build, start a local control plane (etcd, kube-apiserver, controller-manager,
# scheduler, kwok: no containers) and run mc-operator against it. Ctrl-C stops everything.
#
# Environment: MC_METRICS_ADDR (default 127.0.0.1:8080), MC_HEALTH_ADDR (127.0.0.1:8081).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
MC_BUILD_TARGET=mc-operator scripts/build.sh

dir=$(mktemp -d "${TMPDIR:-/tmp}/mc-quickstart.XXXXXX")
# The control plane goes down with this script, whichever way it ends.
e2e/controlplane/controlplane.sh up --dir "$dir" --owner-pid $$
trap 'e2e/controlplane/controlplane.sh down "$dir"' EXIT
export KUBECONFIG=$dir/kubeconfig

metrics=${MC_METRICS_ADDR:-127.0.0.1:8080}
health=${MC_HEALTH_ADDR:-127.0.0.1:8081}
cat <<EOT

mc-operator is starting against the local control plane. In another terminal:
  export KUBECONFIG=$KUBECONFIG
  kubectl get nodes
  curl -s http://$health/readyz; curl -s http://$metrics/metrics | grep ^mc_
Ctrl-C stops mc-operator and the control plane.

EOT
build/operator/cmd/mc-operator --kubeconfig "$KUBECONFIG" --metrics-bind-address "$metrics" \
  --health-probe-bind-address "$health" --log-format text
