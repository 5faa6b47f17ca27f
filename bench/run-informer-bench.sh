#!/usr/bin/env bash
# MC's informer next to client-go's, on the same objects of a local control plane: time to sync,
# RSS after sync, bytes per object. Prints figures and ratios; asserts nothing about time.
#
#   bench/run-informer-bench.sh
#
# Needs the C++ build (scripts/build.sh) at ${MC_BUILD_DIR:-build}/bench/mc-informer-bench; the
# client-go side is e2e/tools/build.sh clientgo-bench. Environment:
#   MC_BENCH_OBJECTS  ConfigMaps (~1 KiB each) and Widgets to seed, each (default 10000)
#   MC_BENCH_RUNS     runs of each implementation on each resource, alternating (default 3)
# The goal (the issue): MC at 5x less memory per object than client-go.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
export PATH="$PATH:/usr/local/go/bin"

objects=${MC_BENCH_OBJECTS:-10000}
runs=${MC_BENCH_RUNS:-3}
build=${MC_BUILD_DIR:-build}
[[ "$build" = /* ]] || build=$repo/$build
mc_bench=$build/bench/mc-informer-bench
ns=mc-bench
# Both sides alike, high enough that neither client throttles itself.
client_flags=(--qps 1000 --burst 1000)

log() { echo "[bench] $*" >&2; }
die() { echo "[bench] $*" >&2; exit 1; }

[ -x "$mc_bench" ] || die "$mc_bench not found: run scripts/build.sh (MC_BUILD_DIR=${MC_BUILD_DIR:-build})"
go_bench=$(e2e/tools/build.sh clientgo-bench | tail -n 1)/clientgo-bench
[ -x "$go_bench" ] || die "clientgo-bench not built ($go_bench)"

cp_dir=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-cp.XXXXXX")
results=$(mktemp "${TMPDIR:-/tmp}/mc-bench-results.XXXXXX")
cleanup() {
  e2e/controlplane/controlplane.sh down "$cp_dir" || true
  rm -f "$results"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a local control plane"
# --owner-pid: torn down even if this script is killed where the trap cannot run.
e2e/controlplane/controlplane.sh up --dir "$cp_dir" --owner-pid $$ >&2
kubeconfig=$cp_dir/kubeconfig

log "seeding $objects ConfigMaps of 1 KiB and $objects Widgets in namespace $ns"
"$go_bench" seed --kubeconfig "$kubeconfig" --crd --namespace "$ns" --configmaps "$objects" \
  --custom "$objects" --size 1024 >&2

# field JSON NAME: a value of the flat one-line JSON both tools print.
field() { sed -E "s/.*\"$2\":\"?([^,\"}]*).*/\1/" <<<"$1"; }

for resource in configmaps widgets; do
  expect=$objects
  # Every namespace also holds the kube-root-ca.crt ConfigMap.
  [ "$resource" = configmaps ] && expect=$((objects + 1))
  for ((run = 1; run <= runs; run++)); do
    for impl in mc client-go; do
      if [ "$impl" = mc ]; then
        cmd=("$mc_bench")
      else
        cmd=("$go_bench" informer "${client_flags[@]}")
      fi
      # Their stderr (one line each: what was synced, how fast) goes on to ours.
      line=$("${cmd[@]}" --kubeconfig "$kubeconfig" --namespace "$ns" --resource "$resource" \
        --expect "$expect") || die "run $run: $impl on $resource failed"
      echo "$line" >> "$results"
    done
  done
done

# ratio A B: "A/B" with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

# median RESOURCE IMPL FIELD: the middle value over the runs (the lower middle for even counts).
median() {
  local resource=$1 impl=$2 name=$3 line values=()
  while read -r line; do
    [ "$(field "$line" resource)" = "$resource" ] && [ "$(field "$line" impl)" = "$impl" ] &&
      values+=("$(field "$line" "$name")")
  done < "$results"
  printf '%s\n' "${values[@]}" | sort -g | sed -n "$(((${#values[@]} + 1) / 2))p"
}

echo
echo "Informer sync, $objects objects a resource, median of $runs runs (MC goal: 5x less memory)"
printf '%-11s %-10s %8s %11s %9s %13s\n' resource impl objects "sync s" "RSS MiB" "bytes/object"
for resource in configmaps widgets; do
  for impl in mc client-go; do
    printf '%-11s %-10s %8s %11s %9.1f %13s\n' "$resource" "$impl" \
      "$(median "$resource" "$impl" objects)" "$(median "$resource" "$impl" sync_seconds)" \
      "$(awk -v b="$(median "$resource" "$impl" rss_bytes)" 'BEGIN { print b / 1048576 }')" \
      "$(median "$resource" "$impl" bytes_per_object)"
  done
done
echo
echo "client-go / mc (above 1: MC better)"
printf '%-11s %13s %9s\n' resource bytes/object "sync s"
for resource in configmaps widgets; do
  printf '%-11s %13s %9s\n' "$resource" \
    "$(ratio "$(median "$resource" client-go bytes_per_object)" \
      "$(median "$resource" mc bytes_per_object)")" \
    "$(ratio "$(median "$resource" client-go sync_seconds)" "$(median "$resource" mc sync_seconds)")"
done
