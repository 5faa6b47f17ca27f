#!/usr/bin/env bash
# Builds the test tools (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok,
# helm, cosign (v2), cosign3 (cosign v3), crane, clientgo-bench, and the Gateway API / Istio CRD
# manifests) from the Go modules pinned under e2e/tools/*/go.mod into a cache outside the clone:
#   ${MC_CACHE:-$HOME/.cache/mc}/tools/<module>-<hash of go.mod+go.sum>/bin
# A second run with the same pins does nothing. Prints the bin folders, one per line, on stdout;
# progress goes to stderr, with a line every 30 s while a build runs.
#
# Usage: e2e/tools/build.sh [--check] [module...]   (default: the tools the tests need, below)
#   --check: build nothing; fail with a clear message if a module's tools are not built yet.
#
# Everything is downloaded through the Go module proxy, so this works from an empty module cache
# and build cache. To prove that, when CI=true or MC_TOOLS_EMPTY_GO_CACHES=1 the tools whose pins
# are not built yet are built with a module cache and build cache of this run's own, empty at its
# start and removed at its end; they share it, as they share a user's (Kubernetes, kwok, helm,
# etcd and cosign have many modules in common, compiled once). Otherwise the user's Go caches are
# used. Unchanged pins are found in the tool cache either way.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MC_CACHE:-$HOME/.cache/mc}
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod -trimpath"
export CGO_ENABLED=0

log() { echo "[tools] $*" >&2; }
die() {
  echo "[tools] $*" >&2
  exit 1
}

# The folder a module's binaries go to: keyed by its pins, so a version bump rebuilds.
tool_dir() {
  local mod=$1
  local key
  key=$(cat "$here/$mod/go.mod" "$here/$mod/go.sum" | sha256sum | cut -c1-12)
  echo "$cache/tools/$mod-$key"
}

# The folder of module $2 as tool module $1 pins it, downloaded first: "go list -m" alone prints
# nothing for a module that is not in the module cache yet.
module_dir() {
  local dir
  (cd "$here/$1" && go mod download "$2") || die "$1: could not download $2"
  dir=$(cd "$here/$1" && go list -m -f '{{.Dir}}' "$2")
  [ -n "$dir" ] && [ -d "$dir" ] || die "$1: $2 is not in the module cache after go mod download"
  echo "$dir"
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

# cosign v2 signs the images of the signing e2e suite, crane pushes them and moves their tags:
# one module, one go build, so the go-containerregistry they share is compiled once.
build_signing() {
  log "building cosign $(pinned_version signing github.com/sigstore/cosign/v2)" \
    "and crane $(pinned_version signing github.com/google/go-containerregistry)"
  (cd "$here/signing" && go build -ldflags "-s -w" -o "$1/" github.com/sigstore/cosign/v2/cmd/cosign \
    github.com/google/go-containerregistry/cmd/crane)
}

# cosign v3 signs and attests in the Sigstore bundle format (OCI 1.1 referrers), which the verifier
# reads besides v2's .sig tags; installed as cosign3 so it sits beside v2's cosign on a PATH.
build_cosign3() {
  log "building cosign3 (cosign $(pinned_version cosign3 github.com/sigstore/cosign/v3))"
  (cd "$here/cosign3" && go build -ldflags "-s -w" -o "$1/cosign3" github.com/sigstore/cosign/v3/cmd/cosign)
}

# Not binaries: the CRD manifests of Gateway API (HTTPRoute) and Istio (VirtualService), copied out
# of their module zips, for the router e2e tests. Lands in <dir>/bin/crds/.
build_routecrds() {
  local gw istio
  gw=$(module_dir routecrds sigs.k8s.io/gateway-api)
  istio=$(module_dir routecrds istio.io/api)
  log "copying CRDs from $gw and $istio"
  mkdir -p "$1/crds"
  local f
  for f in "$gw"/config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes}.yaml \
    "$istio/kubernetes/customresourcedefinitions.gen.yaml"; do
    [ -f "$f" ] || die "$f is missing from its module (did the module's layout change?)"
  done
  cp "$gw"/config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes}.yaml "$1/crds/"
  cp "$istio/kubernetes/customresourcedefinitions.gen.yaml" "$1/crds/istio.yaml"
  chmod -R u+w "$1/crds"
}

# The tools scripts/setup.sh builds: what the README's two commands need. clientgo-bench is built
# by bench/run-informer-bench.sh when it first runs (it only serves that benchmark).
default_modules=(kubernetes etcd kwok helm routecrds signing cosign3)

# A rough cold build time on 2 cores, so a long quiet build does not read as a hang.
expected_time() {
  case $1 in
    kubernetes | signing | cosign3) echo "about 5 min" ;;
    kwok | helm | clientgo-bench) echo "about 2 min" ;;
    *) echo "under a minute" ;;
  esac
}

# Runs "build_<mod> <bin>" and prints a line every 30 s until it ends.
build_with_progress() {
  local mod=$1 bin=$2 start=$3
  "build_$mod" "$bin" &
  local pid=$!
  while ! wait_for "$pid" 30; do
    log "$mod: still building ($(($(date +%s) - start)) s)"
  done
  wait "$pid"
}

# True once process $1 has ended (within $2 seconds), false if it is still running.
wait_for() {
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.5
  done
  ! kill -0 "$1" 2>/dev/null
}

# Points GOMODCACHE and GOCACHE at new empty folders (see the header), removed when this script
# exits; sets $go_caches.
go_caches=
trap '[ -z "$go_caches" ] || rm -rf "$go_caches"' EXIT
use_empty_go_caches() {
  go_caches=$(mktemp -d "${TMPDIR:-/tmp}/mc-tools-go.XXXXXX")
  export GOMODCACHE=$go_caches/mod GOCACHE=$go_caches/build
  export GOFLAGS="$GOFLAGS -modcacherw"  # so the module cache can be removed afterwards
  log "building with empty Go caches in $go_caches"
}

check_only=false
if [ "${1:-}" = "--check" ]; then
  check_only=true
  shift
fi
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=("${default_modules[@]}")

empty_caches=false
if [ "${CI:-}" = true ] || [ "${MC_TOOLS_EMPTY_GO_CACHES:-}" = 1 ]; then
  empty_caches=true
fi

n=0
for mod in "${modules[@]}"; do
  n=$((n + 1))
  [ -f "$here/$mod/go.mod" ] || die "no such tool module: $mod (see $here)"
  dir=$(tool_dir "$mod")
  if [ -f "$dir/.complete" ]; then
    $check_only || log "[$n/${#modules[@]}] $mod: cached in $dir"
  elif $check_only; then
    echo "tools: $mod is not built for these pins (want $dir); run scripts/setup.sh" >&2
    exit 1
  else
    rm -rf "$dir"
    mkdir -p "$dir/bin"
    start=$(date +%s)
    log "[$n/${#modules[@]}] $mod: building ($(expected_time "$mod") on a fresh machine)"
    if $empty_caches && [ -z "$go_caches" ]; then use_empty_go_caches; fi
    build_with_progress "$mod" "$dir/bin" "$start"
    touch "$dir/.complete"
    log "[$n/${#modules[@]}] $mod: built in $(($(date +%s) - start)) s"
  fi
  echo "$dir/bin"
done
