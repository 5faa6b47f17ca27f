#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz (the registry and Secret parsers: manifests, indexes,
# cosign signature manifests and payloads, public keys, image references, docker config JSON,
# auth challenges) with Debian's clang under ASan+UBSan, and runs it for a bounded time from the
# seeds in tests/fuzz/seeds. Exits non-zero on a crash, a sanitizer report or a broken invariant;
# the input that did it is written to build-fuzz/artifacts/ and printed in base64.
#
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-60}
dir=${MC_FUZZ_BUILD_DIR:-build-fuzz}
command -v clang++-14 >/dev/null || { echo "[fuzz] clang++-14 is missing: run scripts/setup.sh" >&2; exit 1; }

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S tests/fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" >/dev/null
cmake --build "$dir"

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$dir/artifacts"
echo "[fuzz] mc-fuzz-parsers for ${seconds} s"
# New inputs go to the scratch corpus; the seeds are only read. One job: CI has two cores.
"$dir/mc-fuzz-parsers" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$dir/artifacts/" "$corpus" tests/fuzz/seeds 2>"$dir/fuzz.log" || {
  tail -60 "$dir/fuzz.log" >&2
  echo "[fuzz] FAILED: the input is in $dir/artifacts/ (replay: $dir/mc-fuzz-parsers FILE)" >&2
  exit 1
}
grep -E '^stat::(number_of_executed_units|new_units_added)|^Done' "$dir/fuzz.log" | sed 's/^/[fuzz] /'
