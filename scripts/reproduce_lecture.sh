#!/usr/bin/env bash
# Run every lecture preset (or the ones named), each resumable, tuned where its config says,
# and publish its per-run files and report under docs/results/<preset>/.
#   bash scripts/reproduce_lecture.sh [preset ...]     bash scripts/reproduce_lecture.sh --list
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if [ "${1:-}" = "--list" ]; then
  exec $PY scripts/run_preset.py --list
fi
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(fc_vs_cnn downsampling augment_invariance pe pe_digits_rows heads pooling optimizers warmup loss batch_size data_scaling attn_vs_rnn)
mkdir -p logs/presets
for p in "${presets[@]}"; do
  extra=()
  [ "$p" = attn_vs_rnn ] && extra=(data.num_train=2000 data.num_val=500 data.num_test=500)
  start=$(date +%s)
  if $PY scripts/run_preset.py "$p" --publish "${extra[@]}" > "logs/presets/$p.log" 2>&1; then
    echo "$p done in $(( $(date +%s) - start ))s"
  else
    echo "$p FAILED (logs/presets/$p.log); the same command resumes it"
  fi
done
