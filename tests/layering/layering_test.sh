#!/usr/bin/env bash
# Every folder above all it uses (docs/architecture.md): no source file includes a header of a
# folder above its own, and no CMake target links one. Fails naming each include or link that
# runs the wrong way.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

# folder: the MC folders (header areas) it may use.
declare -A allowed=(
  [common]=""
  [crds]="common"
  [runtime]="common"
  [analysis]="common crds runtime"
  [signing]="common crds runtime"
  [audit]="common crds runtime"
  [reconcilers]="common crds runtime analysis signing audit"
  [operator]="common crds runtime analysis signing audit reconcilers"
  [cli]="common crds runtime audit signing"
)
# header area (mc/<area>/) -> folder
declare -A folderOf=([common]=common [crds]=crds [runtime]=runtime [analysis]=analysis
  [signing]=signing [audit]=audit [reconcilers]=reconcilers [cli]=cli)
# library -> folder
declare -A libraryOf=([mc_common]=common [mc_crds]=crds [mc_runtime]=runtime
  [mc_analysis]=analysis [mc_signing]=signing [mc_audit]=audit [mc_reconcilers]=reconcilers
  [mc_cli]=cli)

failures=0
for folder in "${!allowed[@]}"; do
  [ -d "$folder" ] || continue
  ok=" $folder ${allowed[$folder]} "
  while IFS=: read -r file line include; do
    area=$(sed -E 's|.*"mc/([a-z_]+)/.*|\1|' <<<"$include")
    used=${folderOf[$area]:-}
    if [ -n "$used" ] && [[ "$ok" != *" $used "* ]]; then
      echo "$file:$line: $folder/ includes mc/$area/ (a folder above it)"
      failures=$((failures + 1))
    fi
  done < <(grep -rnE '^#include "mc/[a-z_]+/' "$folder" --include='*.h' --include='*.cc' || true)
  [ -f "$folder/CMakeLists.txt" ] || continue
  links=$(tr '\n' ' ' <"$folder/CMakeLists.txt" | grep -oE 'target_link_libraries\([^)]*\)' || true)
  for library in $(grep -oE '\bmc_[a-z_]+\b' <<<"$links" | sort -u); do
    used=${libraryOf[$library]:-}
    if [ -n "$used" ] && [ "$used" != "$folder" ] && [[ "$ok" != *" $used "* ]]; then
      echo "$folder/CMakeLists.txt: $folder/ links $library (a folder above it)"
      failures=$((failures + 1))
    fi
  done
done
if [ "$failures" -gt 0 ]; then
  echo "layering: $failures dependencies run the wrong way"
  exit 1
fi
echo "layering: every folder uses only the folders below it"
