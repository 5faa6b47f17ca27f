#!/usr/bin/env bash
# Rehearses a new user's first run: a fresh clone of this repository's HEAD, empty Go module and
# build caches, an empty tool cache (MC_CACHE), ccache off, then the README's two commands, timed
# per phase: set-up, build, quickstart (the demo), tests. Debian packages are the one thing it
# cannot take away (it checks that every name in scripts/setup.sh resolves instead).
#
# Usage: scripts/fresh-check.sh [--keep]   (--keep leaves the clone and caches for a look)
# Takes about 45 minutes on 2 cores. Exit 0 when every phase passed; the times go to stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=false
[ "${1:-}" = "--keep" ] && keep=true

log() { echo "[fresh-check] $*" >&2; }
[ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] ||
  log "note: uncommitted changes are not part of the check (it clones HEAD)"

work=$(mktemp -d "${TMPDIR:-/tmp}/mc-fresh.XXXXXX")
cleanup() {
  if $keep; then log "left in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

git clone --quiet "$root" "$work/mc"
export GOMODCACHE=$work/go/mod GOCACHE=$work/go/build MC_CACHE=$work/mc-cache
export GOFLAGS=-modcacherw  # so the module cache can be removed afterwards
export CCACHE_DISABLE=1
unset MC_TEST_SKIP_SANITIZE MC_BUILD_DIR MC_BUILD_TARGET
log "clone $(git -C "$work/mc" rev-parse --short HEAD) in $work/mc; caches under $work"

phases=() times=()
phase() {
  local name=$1
  shift
  log "phase $name: $*"
  local start=$SECONDS
  (cd "$work/mc" && "$@") >"$work/$name.log" 2>&1 || {
    log "phase $name failed after $((SECONDS - start)) s; the end of $work/$name.log:"
    tail -40 "$work/$name.log" >&2
    keep=true
    exit 1
  }
  phases+=("$name") times+=($((SECONDS - start)))
  log "phase $name: passed in $((SECONDS - start)) s"
}

phase setup scripts/setup.sh
# Every package name setup.sh installs must still exist in Debian's lists (set-up updated them).
sed -n '/^packages=(/,/^)/p' "$root/scripts/setup.sh" | grep -v '^ *#' | tr -d '()' |
  sed 's/packages=//' | xargs apt-get install --simulate -qq >/dev/null ||
  { log "a Debian package in scripts/setup.sh does not resolve"; exit 1; }
phase build env MC_BUILD_TARGET="mc-operator kubectl-mc" scripts/build.sh
phase quickstart env MC_QUICKSTART_EXIT=1 scripts/quickstart.sh
phase tests scripts/test.sh

grep -E '^[0-9]+% tests passed|tests failed out of' "$work/tests.log" >&2 || true
echo "fresh-machine path, clone $(git -C "$work/mc" rev-parse --short HEAD), $(nproc) cores:"
total=0
for i in "${!phases[@]}"; do
  printf '  %-11s %5d s\n' "${phases[$i]}" "${times[$i]}"
  total=$((total + times[i]))
done
printf '  %-11s %5d s\n' total "$total"
