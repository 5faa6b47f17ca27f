#!/usr/bin/env bash
# Tests of the Helm chart charts/mc: lint, and what `helm template` renders for the default values,
# for watchNamespaces, without leader election, and for values the chart must refuse.
#
# Usage: tests/chart/chart_test.sh
#        tests/chart/chart_test.sh --print-rbac DIR [--namespace NS] [--set KEY=VALUE]...
#   --print-rbac: write DIR/rbac.yaml (Namespace NS, then the ServiceAccount, ClusterRole,
#   ClusterRoleBinding and leader-election Role/RoleBinding of release "mc" in NS, default
#   mc-system) for `kubectl apply -f`, and run no tests; --set values render it (helm's --set).
#
# Needs helm (built by e2e/tools/build.sh; run scripts/setup.sh) and python3 with PyYAML
# (Debian: python3-yaml).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
chart="$root/charts/mc"
check="$here/check_render.py"
release=mc
namespace=mc-system
# helm built without its version ldflags assumes Kubernetes v1.20 for `helm template`, which the
# chart's kubeVersion (>=1.30) refuses; render for the version the e2e control plane runs.
kube_version=1.33.0

usage() {
  echo "usage: $0 [--print-rbac DIR [--namespace NS] [--set KEY=VALUE]...]" >&2
  exit 2
}

print_rbac=""
rbac_sets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --print-rbac) [ $# -ge 2 ] || usage; print_rbac=$2; shift 2 ;;
    --namespace) [ $# -ge 2 ] || usage; namespace=$2; shift 2 ;;
    --set) [ $# -ge 2 ] || usage; rbac_sets+=(--set "$2"); shift 2 ;;
    *) usage ;;
  esac
done

helm_dir=$("$root/e2e/tools/build.sh" --check helm) || {
  echo "chart_test: helm is not built; run scripts/setup.sh" >&2
  exit 1
}
helm_bin="$helm_dir/helm"
python3 -c 'import yaml' 2>/dev/null || {
  echo "chart_test: python3 with PyYAML is needed (Debian: apt-get install python3-yaml)" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Keep helm away from the user's helm config, cache and repositories.
export HELM_CONFIG_HOME="$work/helm/config" HELM_CACHE_HOME="$work/helm/cache"
export HELM_DATA_HOME="$work/helm/data"

# render OUT [helm template flags...]: renders the chart (or $render_chart) as release "mc" in
# $namespace. helm notes on stderr that files/crds/*.yaml are symlinks; expected, not an error.
render_chart=$chart
render() {
  local out=$1
  shift
  if ! "$helm_bin" template "$release" "$render_chart" --namespace "$namespace" \
    --kube-version "$kube_version" "$@" >"$out" 2>"$out.err"; then
    grep -v 'found symbolic link in path' "$out.err" >&2 || true
    return 1
  fi
}

if [ -n "$print_rbac" ]; then
  mkdir -p "$print_rbac"
  render "$work/all.yaml" "${rbac_sets[@]}" || { echo "chart_test: helm template failed" >&2; exit 1; }
  python3 "$check" select "$work/all.yaml" "$namespace" "$print_rbac/rbac.yaml"
  echo "$print_rbac/rbac.yaml"
  exit 0
fi

failed=0
pass() { echo "ok - $1"; }
flunk() {
  echo "FAIL - $1" >&2
  failed=1
}

# run_check NAME CHECK FILE ARGS...: one named expectation on a rendered file.
run_check() {
  local name=$1
  shift
  local out
  if out=$(python3 "$check" "$@" 2>&1); then
    pass "$name"
  else
    flunk "$name"
    echo "$out" >&2
  fi
}

# 1. Lint, strict: warnings fail too.
if out=$("$helm_bin" lint --strict "$chart" --kube-version "$kube_version" 2>&1); then
  pass "helm lint --strict charts/mc"
else
  flunk "helm lint --strict charts/mc"
  echo "$out" >&2
fi

# The CRDs are templates (templates/crds.yaml) reading charts/mc/files/crds/, whose files are
# links to the repository's single source crds/*.yaml: one link per CRD, nothing else there, and no
# crds/ folder (Helm would install it once and never upgrade it).
for src in "$root"/crds/*.yaml; do
  file=$(basename "$src")
  link=$(readlink "$chart/files/crds/$file" || true)
  if [ -L "$chart/files/crds/$file" ] && [ "$link" = "../../../../crds/$file" ] &&
    cmp -s "$chart/files/crds/$file" "$src"; then
    pass "charts/mc/files/crds/$file links to crds/$file"
  else
    flunk "charts/mc/files/crds/$file must be a symlink to ../../../../crds/$file (is: '${link:-not a link}')"
  fi
done
for linked in "$chart"/files/crds/*; do
  [ -e "$root/crds/$(basename "$linked")" ] ||
    flunk "charts/mc/files/crds/$(basename "$linked") has no source in crds/"
done
if [ -e "$chart/crds" ]; then
  flunk "charts/mc/crds/ exists: Helm installs it once and never upgrades it; CRDs are templates"
else
  pass "no charts/mc/crds/ folder"
fi

# 2. Default values: ClusterRole with exactly MC's rules, no wildcard, probes, leader election.
if render "$work/default.yaml"; then
  run_check "default values: ClusterRole rules exact, no wildcards, Lease Role, Deployment args and probes" \
    default "$work/default.yaml" "$namespace"
else
  flunk "helm template with default values"
fi
# The CRDs: every one of crds/*.yaml, as written there, annotated to be kept on uninstall; the
# same from the packaged chart (helm package follows the links); none with crds.install=false.
if render "$work/default.yaml"; then
  run_check "default values: every CRD of crds/ rendered once, as written, with resource-policy keep" \
    crds "$work/default.yaml" "$root/crds"
fi
if render "$work/include-crds.yaml" --include-crds; then
  run_check "--include-crds: still each CRD once (no crds/ folder to add them twice)" \
    crds "$work/include-crds.yaml" "$root/crds"
else
  flunk "helm template --include-crds"
fi
if "$helm_bin" package "$chart" --destination "$work/package" >"$work/package.out" 2>&1; then
  render_chart=$(ls "$work"/package/mc-*.tgz)
  if render "$work/packaged.yaml"; then
    run_check "the packaged chart renders every CRD (the links are followed)" \
      crds "$work/packaged.yaml" "$root/crds"
  else
    flunk "helm template of the packaged chart"
  fi
  render_chart=$chart
else
  flunk "helm package charts/mc"
  cat "$work/package.out" >&2
fi
if render "$work/no-crds.yaml" --set crds.install=false; then
  run_check "crds.install=false: no CRD" no-crds "$work/no-crds.yaml"
else
  flunk "helm template --set crds.install=false"
fi

# The admission policies: MC's ServiceAccount exempt, bound to the watched namespaces; none
# with audit.admissionPolicies=false.
if render "$work/default.yaml"; then
  run_check "default values: request and audit-record policies, MC's ServiceAccount exempt, bound everywhere" \
    policies "$work/default.yaml" "$namespace"
fi
if render "$work/policies-ns.yaml" --set 'watchNamespaces={team-a,team-b}'; then
  run_check "watchNamespaces={team-a,team-b}: the policies bound to team-a and team-b only" \
    policies "$work/policies-ns.yaml" "$namespace" team-a team-b
fi
if render "$work/no-policies.yaml" --set audit.admissionPolicies=false; then
  run_check "audit.admissionPolicies=false: no admission policy" no-policies "$work/no-policies.yaml"
else
  flunk "helm template --set audit.admissionPolicies=false"
fi

if render "$work/no-retention.yaml" --set audit.retention.enabled=false; then
  run_check "audit.retention.enabled=false: no delete on AuditRecords, --audit-retention=false" \
    no-retention "$work/no-retention.yaml"
else
  flunk "helm template --set audit.retention.enabled=false"
fi

# 3. watchNamespaces: a Role and RoleBinding in each, one --namespace each, and a ClusterRole for
# ClusterAnalysisTemplates only (cluster-scoped: no Role can grant them).
if render "$work/namespaces.yaml" --set 'watchNamespaces={team-a,team-b}'; then
  run_check "watchNamespaces={team-a,team-b}: Roles in team-a and team-b, ClusterRole for the cluster-scoped kinds only" \
    namespaces "$work/namespaces.yaml" "$namespace" team-a team-b
else
  flunk "helm template --set watchNamespaces={team-a,team-b}"
fi

# 4. Leader election off: no --leader-elect and no Lease Role.
if render "$work/no-leader.yaml" --set leaderElection.enabled=false; then
  run_check "leaderElection.enabled=false: no --leader-elect, no Lease Role" \
    no-leader "$work/no-leader.yaml" "$namespace"
else
  flunk "helm template --set leaderElection.enabled=false"
fi

# analysis.secretNames: get on those Secrets, by name, and on no other.
if render "$work/secrets.yaml" --set 'analysis.secretNames={prom,thanos-basic}'; then
  run_check "analysis.secretNames={prom,thanos-basic}: get on those two Secrets only" \
    secrets "$work/secrets.yaml" "$namespace" prom thanos-basic
else
  flunk "helm template --set analysis.secretNames={prom,thanos-basic}"
fi
# verification.secretNames join them in the one rule (key and pull Secrets, by name only).
if render "$work/verify-secrets.yaml" --set 'analysis.secretNames={prom}' \
  --set 'verification.secretNames={cosign-keys,regcred,prom}'; then
  run_check "verification.secretNames={cosign-keys,regcred,prom}: get on those and prom only" \
    secrets "$work/verify-secrets.yaml" "$namespace" prom cosign-keys regcred
  run_check "verification.enabled and insecureRegistries: the operator's flags" \
    verify-flags "$work/verify-secrets.yaml" "$namespace"
else
  flunk "helm template --set verification.secretNames={cosign-keys,regcred,prom}"
fi

# verification.enabled=false: --verify-images=false, and no rule for policies or their Secrets.
if render "$work/no-verify.yaml" --set verification.enabled=false \
  --set 'verification.secretNames={cosign-keys}'; then
  run_check "verification.enabled=false: no policy rules, no key Secrets, --verify-images=false" \
    no-verify "$work/no-verify.yaml" "$namespace"
else
  flunk "helm template --set verification.enabled=false"
fi

# Names stay within 63 characters however long the prefix.
long=$(printf 'x%.0s' {1..70})
if render "$work/long.yaml" --set "fullnameOverride=$long" &&
  render "$work/long-ns.yaml" --set "fullnameOverride=$long" --set 'watchNamespaces={team-a}'; then
  run_check "fullnameOverride of 70 characters: names cut to 63" names "$work/long.yaml"
  run_check "fullnameOverride of 70 characters with watchNamespaces: names cut to 63" \
    names "$work/long-ns.yaml"
else
  flunk "helm template --set fullnameOverride=<70 characters>"
fi

# Values the chart refuses, each with a message naming the value.
expect_refused() {
  local what=$1 want=$2
  shift 2
  if render "$work/refused.yaml" "$@" 2>"$work/refused.msg"; then
    flunk "$what: rendered, want an error"
  elif grep -q -- "$want" "$work/refused.msg"; then
    pass "$what: refused"
  else
    flunk "$what: refused without naming $want:"
    cat "$work/refused.msg" >&2
  fi
}
expect_refused "logFormat=xml" logFormat --set logFormat=xml
expect_refused "watchNamespaces={Team_A}" watchNamespaces --set 'watchNamespaces={Team_A}'
expect_refused "metrics.port=0" metrics --set metrics.port=0
expect_refused "replicaCount=two" replicaCount --set-string replicaCount=two
expect_refused "crds.install=yes" crds --set-string crds.install=yes
expect_refused "analysis.secretNames={Prom_Token}" secretNames --set 'analysis.secretNames={Prom_Token}'
expect_refused "verification.secretNames={Key_1}" secretNames --set 'verification.secretNames={Key_1}'
expect_refused "verification.insecureRegistries={http://r:5000}" insecureRegistries \
  --set 'verification.insecureRegistries={http://r:5000}'

if [ "$failed" -ne 0 ]; then
  echo "chart_test: FAILED" >&2
  exit 1
fi
echo "chart_test: all checks passed"
