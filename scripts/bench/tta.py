"""Time to accuracy: wall seconds of whole `src/train.py` commands (start-up included) and the
test accuracy each reaches, median of `--repeats` runs.

    python scripts/bench/tta.py [--repeats 5]
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

from biaslab.run.files import find_runs

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "cnn (default, W&B offline)": [],
    "cnn, logger=csv": ["logger=csv"],
    "vit, logger=csv": ["model=vit", "logger=csv"],
    "seq_attn, logger=csv": ["model=seq_attn", "logger=csv"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"median of {args.repeats} runs; digits, 20 epochs, seed 0")
    for name, overrides in COMMANDS.items():
        walls, accs = [], []
        for _ in range(args.repeats):
            root = tempfile.mkdtemp()
            env = {**os.environ, "BIASLAB_ROOT": root, "WANDB_MODE": "offline"}
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "src/train.py", *overrides],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - start)
            (run,) = find_runs(Path(root) / "logs" / "train" / "runs")
            accs.append(run.read_metrics()["test/acc"])
        print(
            f"  {name:28s} {statistics.median(walls):6.1f} s   test/acc {statistics.median(accs):.4f}"
        )


if __name__ == "__main__":
    main()
