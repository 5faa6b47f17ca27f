#!/usr/bin/env bash
# Runs every test: set-up if needed, then
#   1. an ASan+UBSan build, running the unit and integration tests;
#   2. the libFuzzer target under ASan+UBSan for a bounded time (scripts/fuzz.sh);
#   3. the regular build (warnings are errors), running every ctest label: unit, integration, e2e.
# MC_TEST_SKIP_SANITIZE=1 skips the first two (for a quick local run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
scripts/format.sh --check
export PATH="$PATH:/usr/local/go/bin"
jobs=$(nproc)

if [ -z "${MC_TEST_SKIP_SANITIZE:-}" ]; then
  echo "[test] sanitizer build (ASan+UBSan)"
  # The unit and integration tests only: the e2e binaries and mc-operator are not run here.
  MC_BUILD_DIR=build-asan MC_BUILD_TARGET=mc_unit_integration_tests \
    scripts/build.sh -DCMAKE_BUILD_TYPE=Debug -DMC_SANITIZE=ON -DMC_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -L 'unit|integration' --output-on-failure -j "$jobs"
  echo "[test] fuzzing the registry and Secret parsers"
  scripts/fuzz.sh "${MC_FUZZ_SECONDS:-60}"
fi

echo "[test] regular build"
scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMC_SANITIZE=OFF -DMC_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure -j "$jobs"
