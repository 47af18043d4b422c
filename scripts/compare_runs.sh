#!/usr/bin/env bash
# Train every classic CNN with the imagenette-compare recipe, one after another, each resumable:
#   bash scripts/compare_runs.sh [OUT_ROOT] [MODEL...]
# A run folder with a resume state is continued (--resume); a finished one is skipped.
set -uo pipefail
root=${1:-runs/compare}
shift || true
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(alexnet_tv resnet18 googlenet_bn densenet121 vgg11_bn googlenet)
g=${GOOGLENET:-googlenet}
for m in "${models[@]}"; do
  out="$root/$m"
  if [ -f "$out/metrics.csv" ] && [ "$(($(wc -l < "$out/metrics.csv") - 1))" -ge 5 ]; then
    echo "$m: done ($out)"; continue
  fi
  if [ -f "$out/state.pt" ]; then
    $g train --resume "$out" progress=false
  else
    $g train --recipe imagenette-compare --model "$m" --out "$out" progress=false
  fi
  echo "$m: exit $?"
done
