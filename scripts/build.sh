#!/usr/bin/env bash
# Configures and builds MC into build/ (or $MC_BUILD_DIR). Extra arguments go to cmake;
# MC_BUILD_TARGET (one target, or several separated by spaces) builds those instead of all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${MC_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DMC_WERROR=ON "$@" >/dev/null
# shellcheck disable=SC2086 # word splitting of the target list is wanted
cmake --build "$build" ${MC_BUILD_TARGET:+--target $MC_BUILD_TARGET}
