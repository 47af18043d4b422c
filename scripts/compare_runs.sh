#!/usr/bin/env bash
# Train every classic CNN with the imagenette-compare recipe, one after another, each resumable:
#   bash scripts/compare_runs.sh [OUT_ROOT] [MODEL...]
# A run folder with a resume state is continued (--resume); a finished one is skipped. The paper's googlenet
# is trained on Caffe's input scale (model.input_contract=caffe); every other option is the recipe's.
set -uo pipefail
root=${1:-runs/compare}
shift || true
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(alexnet_tv resnet18 googlenet_bn googlenet densenet121 vgg11_bn)
g=${GOOGLENET:-googlenet}
for m in "${models[@]}"; do
  out="$root/$m"
  extra=()
  # the paper's model takes Caffe's inputs: BGR, 0-255 minus the mean pixel (googlenet-paper.md, BVLC)
  [ "$m" = googlenet ] && extra=(model.input_contract=caffe)
  epochs=$($g train --recipe imagenette-compare --model "$m" --out "$out" ${extra[@]+"${extra[@]}"} --print-config \
    2>/dev/null | sed -n 's/^  epochs: //p')
  if [ -f "$out/metrics.csv" ] && [ -n "$epochs" ] && [ "$(($(wc -l < "$out/metrics.csv") - 1))" -ge "$epochs" ]; then
    echo "$m: done ($out)"; continue
  fi
  if [ -f "$out/state.pt" ]; then
    $g train --resume "$out" log.progress=false
  else
    $g train --recipe imagenette-compare --model "$m" --out "$out" log.progress=false ${extra[@]+"${extra[@]}"}
  fi
  echo "$m: exit $?"
done
