#!/usr/bin/env bash
# Formats the C++ tree with clang-format (.clang-format); --check fails on any difference.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=$(git ls-files --cached --others --exclude-standard '*.cc' '*.h')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror $files
else
  clang-format -i $files
fi
