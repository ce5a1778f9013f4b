#!/usr/bin/env bash
# The follow-up GPU run (after scripts/bench_gpu.py): experiment=fashion_mnist_gpu at 10 and 12
# epochs, one after another (timed), then three CPU-recipe candidates at once (accuracy only).
# Run in the repo root on the GPU machine, with the four Fashion-MNIST .gz files in .fmnist/
# and the Hydra wheels in .whl/; prints "name test/acc test_last/acc fit_s params".
set -eu
python3 -m pip install -q --no-deps .whl/*.whl 2>&1 | tail -1
export PYTHONPATH=$PWD/src WANDB_MODE=disabled
F="data.data_dir=$PWD/.fmnist data.download=false logger=csv extras.print_config=false trainer.enable_progress_bar=false trainer.enable_model_summary=false"
for e in 10 12; do python3 src/train.py experiment=fashion_mnist_gpu trainer.max_epochs=$e $F hydra.run.dir=/tmp/r/gpu$e > /tmp/r_gpu$e.log 2>&1; done
python3 src/train.py experiment=fashion_mnist_cnn model.backbone.channels=[32,64] $F hydra.run.dir=/tmp/r/v1 > /tmp/v1.log 2>&1 &
python3 src/train.py experiment=fashion_mnist_cnn model.backbone.channels=[32,64] pooling=flatten $F hydra.run.dir=/tmp/r/v2 > /tmp/v2.log 2>&1 &
python3 src/train.py experiment=fashion_mnist_cnn model.backbone.channels=[32,64,128] $F hydra.run.dir=/tmp/r/v3 > /tmp/v3.log 2>&1 &
wait
for d in gpu10 gpu12 v1 v2 v3; do python3 -c "import json;m=json.load(open('/tmp/r/$d/metrics.json'));print('$d', round(m['test/acc'],4), round(m['test_last/acc'],4), round(m['time/fit_s'],2), m['params/total'])" || tail -5 /tmp/$d.log /tmp/r_$d.log; done | tee $OUT/fmnist_variants.txt
