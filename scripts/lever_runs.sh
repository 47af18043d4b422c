#!/usr/bin/env bash
# One recipe, one lever changed per run, one run after another, each resumable:
#   bash scripts/lever_runs.sh OUT_ROOT RECIPE NAME:"FIELD=VALUE ..." [NAME:"..." ...]
#   bash scripts/lever_runs.sh runs/levers imagenette-128 ema:"optim.ema_decay=0.999" bs32:"data.batch_size=32 optim.lr=0.05"
# A run folder with a resume state is continued (--resume); one whose metrics.csv has every epoch is skipped.
set -uo pipefail
set -f  # the overrides are split into words on purpose, never expanded as file names
root=$1 recipe=$2
shift 2
g=${GOOGLENET:-googlenet}
for spec in "$@"; do
  name=${spec%%:*} overrides=
  [[ $spec == *:* ]] && overrides=${spec#*:}
  out="$root/$name"
  # shellcheck disable=SC2086  # the overrides are words on purpose
  epochs=$($g train --recipe "$recipe" --out "$out" $overrides --print-config 2>/dev/null | sed -n 's/^  epochs: //p')
  if [ -f "$out/metrics.csv" ] && [ -n "$epochs" ] && [ "$(($(wc -l < "$out/metrics.csv") - 1))" -ge "$epochs" ]; then
    echo "$name: done ($out)"; continue
  fi
  if [ -f "$out/state.pt" ]; then
    # the same overrides again: one the folder's run set to another value is refused in one line (fields the
    # spec leaves out are not compared: the folder's own config.yaml says what it was made with)
    # shellcheck disable=SC2086
    $g train --resume "$out" log.progress=false $overrides
  else
    # shellcheck disable=SC2086
    $g train --recipe "$recipe" --out "$out" log.progress=false $overrides
  fi
  echo "$name: exit $?"
done
