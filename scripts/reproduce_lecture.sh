#!/usr/bin/env bash
# Run every lecture preset (3 seeds per arm) and write its report; logs/lecture/<preset>.txt
# holds the sweep dir. Usage: bash scripts/reproduce_lecture.sh [preset ...]  (CSV logging)
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(fc_vs_cnn downsampling augment_invariance pe pe_digits_rows heads pooling optimizers warmup loss batch_size data_scaling attn_vs_rnn)
mkdir -p logs/lecture
for p in "${presets[@]}"; do
  start=$(date +%s)
  extra=()
  [ "$p" = attn_vs_rnn ] && extra=(data.num_train=2000 data.num_val=500 data.num_test=500)
  $PY src/train.py experiment="$p" logger=csv extras.print_config=false \
      trainer.enable_progress_bar=false trainer.enable_model_summary=false "${extra[@]}" \
      > "logs/lecture/$p.log" 2>&1
  sweep=$(ls -td logs/train/multiruns/*/ | head -1)
  baseline=""
  case $p in
    fc_vs_cnn) baseline="--baseline model=fc" ;;
    downsampling) baseline="--baseline model.backbone.downsample=maxpool" ;;
    augment_invariance) baseline="--baseline augment=none" ;;
    pe_digits_rows) baseline="--baseline pe=none" ;;
    heads) baseline="--baseline model.backbone.heads=1" ;;
    pooling) baseline="--baseline pooling=cls" ;;
    optimizers) baseline="--baseline optimizer=sgd" ;;
    warmup) baseline="--baseline scheduler=cosine" ;;
    loss) baseline="--baseline loss=mse" ;;
    batch_size) baseline="--baseline data.batch_size=256" ;;
  esac
  $PY scripts/report.py "$sweep" $baseline > /dev/null
  echo "$p $sweep $(( $(date +%s) - start ))s" | tee -a logs/lecture/index.txt
done
