"""GPU figures in one prepared run (issue: the speed recipe, real accuracy, many small runs).

    python scripts/bench/gpu.py --out DIR --fmnist DIR_WITH_THE_4_GZ_FILES [--quick]

1. `experiment=cifar10_speed` on a generated stand-in of CIFAR-10's exact shape and size
   (50,000 + 10,000 random 32x32x3 images in the real pickle format: timings only, its accuracy
   means nothing): seconds per epoch and for the 30-epoch recipe; Lightning's ms/step against a
   hand-written loop of the same recipe (same net, data on the GPU, flip+crop, bf16 autocast,
   channels_last, SGD Nesterov, warm-up + cosine), measured side by side in this run.
2. `experiment=fashion_mnist_gpu` on the real Fashion-MNIST files: test accuracy, fit seconds.
3. Twelve small runs (digits CNN, seeds 0-11): one after another (Hydra's basic launcher), then
   four at a time sharing the GPU (Hydra's joblib launcher): runs per minute, and whether every
   seed gives the same test accuracy both ways.
Each step's figures go to DIR/results.json and DIR/results.md as soon as it ends.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from biaslab.run.files import RunDir

ROOT = Path(__file__).resolve().parents[2]
QUIET = [
    "logger=csv",
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks.model_summary=null",
]
results: dict = {}


def save(out: Path) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"# GPU figures ({results.get('device', '?')})", ""]
    for step, figures in results.items():
        if isinstance(figures, dict):
            lines += [f"## {step}", "", *[f"- {k}: {v}" for k, v in figures.items()], ""]
    (out / "results.md").write_text("\n".join(lines))


def train(*args: str, timeout: int = 600) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "src/train.py", *args, *QUIET],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return time.perf_counter() - start


def write_cifar_standin(root: Path, n_train: int, n_test: int) -> None:
    """CIFAR-10's pickled batches, random content, exact shapes: 5 x (n/5) + n_test."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in [
        *[(f"data_batch_{i}", n_train // 5) for i in range(1, 6)],
        ("test_batch", n_test),
    ]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": (np.arange(n) % 10).tolist()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)


def history(run_dir: Path) -> tuple[list[float], list[float]]:
    """(seconds per epoch, ms per step per epoch) from the run's history, epochs 2 on."""
    import csv

    with open(RunDir(run_dir).history) as f:
        rows = [(float(r["wall_s"]), int(r["step"])) for r in csv.DictReader(f)]
    seconds = [b[0] - a[0] for a, b in itertools.pairwise(rows)]
    ms_per_step = [1000 * (b[0] - a[0]) / (b[1] - a[1]) for a, b in itertools.pairwise(rows)]
    return seconds, ms_per_step


def hand_loop(overrides: list[str], epochs: int) -> float:
    """ms per training step of a plain PyTorch loop over the recipe (epoch 0 is warm-up)."""
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    import biaslab.utils.resolvers  # noqa: F401
    from biaslab.module import Classifier

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    m = OmegaConf.to_container(cfg.module, resolve=True)
    torch.manual_seed(0)
    model = Classifier(**{k: v for k, v in m.items() if k != "_target_"}).to(dev)
    model = model.to(memory_format=torch.channels_last)
    dm = instantiate(cfg.data)
    dm.setup()
    x, y = (t.to(dev) for t in dm.splits["train"])
    augment = dm.augment
    bs = cfg.data.batch_size
    steps_per_epoch = max(1, len(x) // bs)
    optimizer = instantiate(m["optimizer"])(params=model.parameters())
    scheduler = instantiate(m["scheduler"])(optimizer, total_steps=steps_per_epoch * epochs)
    model.train()
    start, steps = 0.0, 0
    for epoch in range(epochs):
        if epoch == 1:
            sync()
            start, steps = time.perf_counter(), 0
        order = torch.randperm(len(x), device=dev)
        for i in range(steps_per_epoch):
            idx = order[i * bs : (i + 1) * bs]
            inputs = augment(x[idx]).contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss = model.criterion(model.net(inputs), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += epoch >= 1
    sync()
    return 1000 * (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True, help="results.json and results.md")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_gpu"), help="data and runs")
    parser.add_argument("--fmnist", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of the script")
    parser.add_argument("--steps", default="1,2,3")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    import torch

    results["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    results["versions"] = {"torch": torch.__version__, "python": sys.version.split()[0]}
    accel = (
        []
        if torch.cuda.is_available()
        else ["trainer.accelerator=cpu", "trainer.precision=32-true"]
    )
    steps = set(args.steps.split(","))
    work = args.work
    data = work / "data"
    n_train, n_test = (500, 100) if args.quick else (50_000, 10_000)
    if "1" in steps:
        try:
            write_cifar_standin(data, n_train, n_test)
            epochs = 2 if args.quick else 30
            common = [
                "experiment=cifar10_speed",
                f"data.data_dir={data}",
                "data.download=false",
                "data.verify_checksums=false",
                *accel,
            ]
            run = work / "runs" / "cifar_recipe"
            wall = train(*common, f"trainer.max_epochs={epochs}", f"hydra.run.dir={run}")
            m = RunDir(run).read_metrics()
            per_epoch, _ = history(run)
            first_epoch = RunDir(run).read_metrics()["time/fit_s"] - sum(per_epoch)
            run_nv = work / "runs" / "cifar_noval"
            train(
                *common,
                "trainer.max_epochs=4",
                "trainer.limit_val_batches=0",
                "test=false",
                f"hydra.run.dir={run_nv}",
            )
            lightning_ms = float(np.median(history(run_nv)[1]))
            plain_ms = (
                hand_loop(common, 2 if args.quick else 4)
                if torch.cuda.is_available()
                else float("nan")
            )
            results["1. cifar10_speed on the CIFAR-10 stand-in (timings only)"] = {
                "epochs": epochs,
                "fit seconds (train + val each epoch)": round(m["time/fit_s"], 2),
                "seconds per epoch, median after the first": round(float(np.median(per_epoch)), 3),
                "first epoch and end of fit seconds": round(first_epoch, 3),
                "whole command wall seconds": round(wall, 1),
                "Lightning ms/step (no val, median epoch)": round(lightning_ms, 3),
                "hand-written loop ms/step": round(plain_ms, 3),
                "Lightning / hand loop": round(lightning_ms / plain_ms, 3),
            }
        except Exception as err:
            results["1. cifar10_speed"] = {"error": str(err)[-1500:]}
        save(out)
    if "2" in steps:
        try:
            run = work / "runs" / "fmnist"
            extra = ["trainer.max_epochs=1", "data.train_fraction=0.05"] if args.quick else []
            wall = train(
                "experiment=fashion_mnist_gpu",
                f"data.data_dir={args.fmnist}",
                "data.download=false",
                f"hydra.run.dir={run}",
                *accel,
                *extra,
            )
            m = RunDir(run).read_metrics()
            results["2. Fashion-MNIST, experiment=fashion_mnist_gpu (real data)"] = {
                "test/acc (best val checkpoint)": round(m["test/acc"], 4),
                "test_last/acc": round(m.get("test_last/acc", float("nan")), 4),
                "fit seconds": round(m["time/fit_s"], 2),
                "whole command wall seconds": round(wall, 1),
                "epochs": m.get("time/epochs"),
            }
            run = work / "runs" / "fmnist_cpu_recipe"
            extra = ["trainer.max_epochs=1", "data.train_fraction=0.05"] if args.quick else []
            train(
                "experiment=fashion_mnist_cnn",
                f"data.data_dir={args.fmnist}",
                "data.download=false",
                f"hydra.run.dir={run}",
                *accel,
                *extra,
            )
            m = RunDir(run).read_metrics()
            results["2b. Fashion-MNIST, the CPU recipe experiment=fashion_mnist_cnn on the GPU"] = {
                "test/acc": round(m["test/acc"], 4),
                "fit seconds": round(m["time/fit_s"], 2),
            }
        except Exception as err:
            results["2. Fashion-MNIST"] = {"error": str(err)[-1500:]}
        save(out)
    if "3" in steps:
        try:
            seeds = "0,1,2,3" if args.quick else ",".join(map(str, range(12)))
            n = len(seeds.split(","))
            common = [
                "-m",
                f"seed={seeds}",
                "trainer.max_epochs=10",
                "trainer.deterministic=true",
                *accel,
            ]
            figures = {}
            accs = {}
            for name, launcher in (
                ("one after another", []),
                ("4 at a time (joblib)", ["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"]),
            ):
                sweep = work / "runs" / name.split()[0]
                wall = train(*common, *launcher, f"hydra.sweep.dir={sweep}")
                accs[name] = [RunDir(sweep / str(i)).read_metrics()["test/acc"] for i in range(n)]
                figures[f"{name}: runs per minute"] = round(60 * n / wall, 2)
                figures[f"{name}: wall seconds for {n} runs"] = round(wall, 1)
            a, b = accs.values()
            figures["same test/acc per seed both ways"] = a == b
            figures["test/acc per seed (one after another)"] = [round(v, 4) for v in a]
            figures["test/acc per seed (4 at a time)"] = [round(v, 4) for v in b]
            results["3. many small runs on one card (digits CNN, 10 epochs)"] = figures
        except Exception as err:
            results["3. many small runs"] = {"error": str(err)[-1500:]}
        save(out)


if __name__ == "__main__":
    main()
