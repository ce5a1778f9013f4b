#!/usr/bin/env bash
# Run every lecture preset (or the ones named), each resumable, tuned where its config says,
# and publish its per-run files and report under docs/results/<preset>/.
#   bash scripts/reproduce_lecture.sh [preset ...]     bash scripts/reproduce_lecture.sh --list
# Fashion-MNIST: torchvision downloads it into data/ unless the original files are there; on a
# machine with `apt-get install dataset-fashion-mnist` they are linked from FMNIST_DIR.
# JOBS runs (default 2, one thread each: how data_scaling and warmup were timed) run at once
# through Hydra's joblib launcher; JOBS=1 runs them one at a time.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
FMNIST_DIR=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ -d "$FMNIST_DIR" ] && [ ! -e data/FashionMNIST/raw/train-images-idx3-ubyte.gz ]; then
  mkdir -p data/FashionMNIST/raw && ln -sf "$FMNIST_DIR"/*.gz data/FashionMNIST/raw/
fi
JOBS=${JOBS:-2}
launcher=()
[ "$JOBS" -gt 1 ] && launcher=(hydra/launcher=joblib "hydra.launcher.n_jobs=$JOBS")
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
lecture=(loss optimizers critical_points depth receptive_field fc_vs_cnn downsampling
  augment_invariance heads attention_kind pe gat warmup batch_size attn_vs_rnn data_scaling)
if [ "${1:-}" = "--list" ]; then
  exec $PY scripts/run_preset.py --list "${lecture[@]}"
fi
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=("${lecture[@]}")
mkdir -p logs/presets
for p in "${presets[@]}"; do
  start=$(date +%s)
  if $PY scripts/run_preset.py "$p" --publish "${launcher[@]}" > "logs/presets/$p.log" 2>&1; then
    echo "$p done in $(( $(date +%s) - start ))s"
  else
    echo "$p FAILED (logs/presets/$p.log); the same command resumes it"
  fi
done
