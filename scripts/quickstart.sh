#!/usr/bin/env bash
# Set-up, build, start a local control plane (etcd, kube-apiserver, controller-manager,
# scheduler, kwok: no containers), install the chart's CRDs and RBAC, run mc-operator as the
# chart's ServiceAccount, give the pods a body (mc-workload: one mc-demo-app per pod template,
# a load split by MC's weight, a Prometheus scraping them), apply examples/analysis-template.yaml
# (MC's built-in analyses: error rate, p95 latency, SLO burn) and examples/rollout.yaml (v1), then
# change its image to v2 and show the canary stepping 10 -> 30 -> 60 -> 100 live, judged by the
# analysis, with `kubectl mc get rollout web --watch`, promoted with its AnalysisRun Successful;
# then a v3 answering 20 % of its requests with 500 is aborted by the analysis, and the
# AnalysisRun that failed it is shown (its PromQL as run and the failing measurement).
# mc-operator keeps running afterwards; Ctrl-C stops it, the workload and the control plane.
#
# Environment: MC_METRICS_ADDR (default 127.0.0.1:8080), MC_HEALTH_ADDR (127.0.0.1:8081),
# MC_BUILD_DIR (default build, as scripts/build.sh), MC_QUICKSTART_EXIT=1 to stop after the demo
# instead of keeping MC running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
build=${MC_BUILD_DIR:-build}

scripts/setup.sh
MC_BUILD_DIR=$build MC_BUILD_TARGET="mc-operator kubectl-mc mc-workload mc-demo-app" scripts/build.sh
export PATH="$root/$build/cli:$PATH"  # kubectl finds the `mc` plugin here
helm="$(e2e/tools/build.sh --check helm)/helm"

dir=$(mktemp -d "${TMPDIR:-/tmp}/mc-quickstart.XXXXXX")
# The control plane goes down with this script, whichever way it ends.
e2e/controlplane/controlplane.sh up --dir "$dir" --owner-pid $$
operator_pid=
workload_pid=
cleanup() {
  [ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null && wait "$workload_pid" 2>/dev/null
  [ -n "$operator_pid" ] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  e2e/controlplane/controlplane.sh down "$dir"
}
trap cleanup EXIT
export KUBECONFIG=$dir/kubeconfig

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing the chart's CRDs, RBAC and admission policies (namespace mc-system)"
kubectl apply -f crds/   # every CRD (the chart renders the same files as templates)
kubectl wait --for=condition=Established crd/rollouts.mc.maestro.dev crd/analysistemplates.mc.maestro.dev \
  crd/clusteranalysistemplates.mc.maestro.dev crd/analysisruns.mc.maestro.dev \
  crd/auditrecords.mc.maestro.dev crd/auditchains.mc.maestro.dev --timeout=60s
kubectl create namespace mc-system --dry-run=client -o yaml | kubectl apply -f -
"$helm" template mc charts/mc --namespace mc-system --kube-version 1.33.0 \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml \
  --show-only templates/request-policy.yaml | kubectl apply -f -

# No containers run here, so mc-operator runs as a local process, with the ServiceAccount's token:
# it can do exactly what the chart's RBAC allows.
token=$(kubectl -n mc-system create token mc --duration=24h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
cat > "$dir/mc.kubeconfig" <<EOT
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority: "$dir/pki/ca.crt"}}]
users: [{name: mc, user: {token: "$token"}}]
contexts: [{name: mc, context: {cluster: local, user: mc, namespace: default}}]
current-context: mc
EOT

metrics=${MC_METRICS_ADDR:-127.0.0.1:8080}
health=${MC_HEALTH_ADDR:-127.0.0.1:8081}
step "Starting mc-operator as system:serviceaccount:mc-system:mc (log: $dir/mc-operator.log)"
"$build/operator/mc-operator" --kubeconfig "$dir/mc.kubeconfig" --metrics-bind-address "$metrics" \
  --health-probe-bind-address "$health" --log-format text >"$dir/mc-operator.log" 2>&1 &
operator_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://$health/readyz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://$health/readyz" >/dev/null || { tail -20 "$dir/mc-operator.log"; exit 1; }

step "The workload: mc-demo-app per pod template, 50 requests/s split by MC's weight, Prometheus"
"$build/e2e/fixtures/mc-workload" --kubeconfig "$KUBECONFIG" --namespace default --rollout web \
  --demo-app "$build/examples/demo-app/mc-demo-app" --report 0 >"$dir/workload.out" 2>"$dir/workload.log" &
workload_pid=$!
for _ in $(seq 1 150); do
  grep -q '^prometheus ' "$dir/workload.out" 2>/dev/null && break
  sleep 0.2
done
prometheus=$(sed -n 's/^prometheus //p' "$dir/workload.out")
[ -n "$prometheus" ] || { tail -20 "$dir/workload.log"; exit 1; }
echo "Prometheus at $prometheus (log: $dir/workload.log)"

step "The analysis: examples/analysis-template.yaml (the canary's 5xx above 2 %, p95 above 1.5 s or an SLO burn fails)"
sed "s|http://prometheus.monitoring:9090|$prometheus|" examples/analysis-template.yaml | kubectl apply -f -

step "v1: kubectl apply -f examples/rollout.yaml"
kubectl apply -f examples/rollout.yaml
kubectl mc status web --timeout 60s

step "v2: a new image starts a canary; kubectl mc get rollout web --watch"
kubectl patch rollout.mc.maestro.dev web --type=json \
  -p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example/web:2.0.0"}]'
kubectl mc get rollout web --watch &
watch_pid=$!
kubectl mc status web --timeout 5m >"$dir/status.log" 2>&1 && result=0 || result=$?
sleep 1  # let the watch draw the final state
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true

step "v2: $(tail -1 "$dir/status.log")"
[ "$result" -eq 0 ] || exit "$result"
# The completed canary ends its background run: Successful, every metric having passed.
for run in $(kubectl get mcar -o name); do
  kubectl wait --for=jsonpath='{.status.phase}'=Successful "$run" --timeout=30s >/dev/null ||
    { kubectl mc get analysisrun "${run#*/}"; exit 1; }
done
kubectl get mcar

step "v3 answers 20 % of its requests with 500: the analysis aborts it"
kubectl patch rollout.mc.maestro.dev web --type=json -p '[
  {"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example/web:3.0.0"},
  {"op":"replace","path":"/spec/template/spec/containers/0/env/0/value","value":"0.2"}]'
kubectl mc status web --timeout 3m >"$dir/status.log" 2>&1 || true
kubectl mc get rollout web
reason=$(kubectl get mcro web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')
step "v3: $(tail -1 "$dir/status.log") (reason $reason)"
kubectl get mcro web
kubectl get events --field-selector involvedObject.name=web --sort-by=.metadata.creationTimestamp \
  -o custom-columns=REASON:.reason,MESSAGE:.message
[ "$reason" = AnalysisFailed ] || exit 1
failed=$(kubectl get mcar -o jsonpath='{.items[?(@.status.phase=="Failed")].metadata.name}')
step "The AnalysisRun that aborted v3: kubectl mc get analysisrun $failed"
kubectl mc get analysisrun "$failed"

step "Back to v2: kubectl mc undo web"
kubectl mc undo web
kubectl mc status web --timeout 60s

step "Game day: kubectl mc drill web --set-env ERROR_RATE=0.2 (an API dependency's brownout)"
kubectl mc drill web --set-env ERROR_RATE=0.2 --timeout 5m --report "$dir/drill.md" ||
  { echo "the drill failed: MC did not roll back (report: $dir/drill.md)"; exit 1; }
echo "(the report: $dir/drill.md and $dir/drill.md.json)"

step "Every decision on record: kubectl mc audit log web; kubectl mc audit verify web"
kubectl mc audit log web
kubectl mc audit verify web
if [ "${MC_QUICKSTART_EXIT:-}" = 1 ]; then
  exit 0
fi
cat <<EOT

mc-operator keeps running against the local control plane. In another terminal:
  export KUBECONFIG=$KUBECONFIG PATH=$root/build/cli:\$PATH
  kubectl mc get rollout web --watch      # then change the image (and ERROR_RATE) again, or:
  kubectl mc retry web; kubectl mc abort web; kubectl mc promote web --full
  kubectl mc get analysisrun $failed     # the measurements and the PromQL of v3's analysis
  kubectl mc drill web --set-env ERROR_RATE=0.5; kubectl mc audit log web
  curl -s http://$metrics/metrics | grep ^mc_
Ctrl-C stops mc-operator and the control plane.
EOT
wait "$operator_pid"
