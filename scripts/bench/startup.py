"""Start-up: `--help`, and a one-step run, against the bare `import torch, lightning`.

Wall time of whole commands (a fresh Python each), median of `--repeats`.

    python scripts/bench/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_STEP = [
    "trainer.max_steps=1",
    "trainer.limit_val_batches=0",
    "trainer.num_sanity_val_steps=0",
    "test=false",
    "logger=csv",
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks=none",
]


def wall(cmd: list[str], repeats: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "BIASLAB_ROOT": tempfile.mkdtemp(), "WANDB_MODE": "offline"}
    py = sys.executable
    rows = {
        "python -c 'import torch, lightning'": wall(
            [py, "-c", "import torch, lightning"], args.repeats, env
        ),
        "python src/train.py --help": wall([py, "src/train.py", "--help"], args.repeats, env),
        "python src/train.py --cfg job": wall(
            [py, "src/train.py", "--cfg", "job"], args.repeats, env
        ),
        "one training step (csv logger)": wall([py, "src/train.py", *ONE_STEP], args.repeats, env),
        "one training step (W&B offline)": wall(
            [py, "src/train.py", *ONE_STEP, "logger=wandb"], args.repeats, env
        ),
    }
    base = rows["python -c 'import torch, lightning'"]
    print(f"median of {args.repeats} runs each")
    for name, seconds in rows.items():
        print(f"{name:36s} {seconds:6.2f} s   {seconds - base:+6.2f} s vs bare import")


if __name__ == "__main__":
    main()
