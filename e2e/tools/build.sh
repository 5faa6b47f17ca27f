#!/usr/bin/env bash
# Builds the test tools (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok,
# clientgo-bench, helm, and the Gateway API / Istio CRD manifests) from the Go modules pinned
# under e2e/tools/*/go.mod into a cache outside the clone:
#   ${MC_CACHE:-$HOME/.cache/mc}/tools/<module>-<hash of go.mod+go.sum>/bin
# A second run with the same pins does nothing. Prints the bin folders, one per line, on stdout.
#
# Usage: e2e/tools/build.sh [--check] [module...]   (default: every module folder here)
#   --check: build nothing; fail with a clear message if a module's tools are not built yet.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MC_CACHE:-$HOME/.cache/mc}
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod -trimpath"
export CGO_ENABLED=0

log() { echo "[tools] $*" >&2; }

# The folder a module's binaries go to: keyed by its pins, so a version bump rebuilds.
tool_dir() {
  local mod=$1
  local key
  key=$(cat "$here/$mod/go.mod" "$here/$mod/go.sum" | sha256sum | cut -c1-12)
  echo "$cache/tools/$mod-$key"
}

# go.mod's require line of a module path, e.g. "v1.33.13".
pinned_version() {
  awk -v m="$2" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == "require") ? $3 : $2; exit }' \
    "$here/$1/go.mod"
}

build_kubernetes() {
  local out=$1 v
  v=$(pinned_version kubernetes k8s.io/kubernetes)
  local minor=${v#v1.}
  minor=${minor%%.*}
  # Without the stamp the binaries report v0.0.0-master and kubectl warns about skew.
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$v"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  local cmd
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    log "building $cmd $v"
    (cd "$here/kubernetes" && go build -ldflags "$ldflags" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
}

build_etcd() {
  log "building etcd $(pinned_version etcd go.etcd.io/etcd/server/v3)"
  (cd "$here/etcd" && go build -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  log "building kwok $(pinned_version kwok sigs.k8s.io/kwok)"
  (cd "$here/kwok" && go build -ldflags "-s -w" -o "$1/kwok" sigs.k8s.io/kwok/cmd/kwok)
}

check_only=false
if [ "${1:-}" = "--check" ]; then
  check_only=true
  shift
fi
# The client-go informer that MC's informer benchmark is measured against (bench/).
build_clientgo-bench() {
  log "building clientgo-bench (client-go $(pinned_version clientgo-bench k8s.io/client-go))"
  (cd "$here/clientgo-bench" && go build -ldflags "-s -w" -o "$1/clientgo-bench" .)
}

# helm lints and renders charts/mc in the tests.
build_helm() {
  log "building helm $(pinned_version helm helm.sh/helm/v3)"
  (cd "$here/helm" && go build -ldflags "-s -w" -o "$1/helm" helm.sh/helm/v3/cmd/helm)
}

# Not binaries: the CRD manifests of Gateway API (HTTPRoute) and Istio (VirtualService), copied out
# of their module zips, for the router e2e tests. Lands in <dir>/bin/crds/.
build_routecrds() {
  local gw istio
  gw=$(cd "$here/routecrds" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
  istio=$(cd "$here/routecrds" && go list -m -f '{{.Dir}}' istio.io/api)
  log "copying CRDs from $gw and $istio"
  mkdir -p "$1/crds"
  cp "$gw"/config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes}.yaml "$1/crds/"
  cp "$istio/kubernetes/customresourcedefinitions.gen.yaml" "$1/crds/istio.yaml"
  chmod -R u+w "$1/crds"
}

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  for d in "$here"/*/go.mod; do modules+=("$(basename "$(dirname "$d")")"); done
fi

for mod in "${modules[@]}"; do
  dir=$(tool_dir "$mod")
  if [ -f "$dir/.complete" ]; then
    $check_only || log "$mod: cached in $dir"
  elif $check_only; then
    echo "tools: $mod is not built for these pins (want $dir); run scripts/setup.sh" >&2
    exit 1
  else
    rm -rf "$dir"
    mkdir -p "$dir/bin"
    start=$(date +%s)
    "build_$mod" "$dir/bin"
    touch "$dir/.complete"
    log "$mod: built in $(($(date +%s) - start)) s"
  fi
  echo "$dir/bin"
done
