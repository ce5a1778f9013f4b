"""The same 16-trial search of the digits CNN (LR, weight decay, batch size), without and with
pruning, side by side: wall time, best val/acc_best, trials pruned.

    python scripts/bench/optuna.py [--trials 16] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def search(pruner: bool, trials: int, epochs: int) -> dict:
    import optuna

    tmp = Path(tempfile.mkdtemp())
    db = f"sqlite:///{tmp / 'study.db'}"
    args = [
        "-m",
        "hparams_search=optuna",
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=bench",
        f"hydra.sweeper.n_trials={trials}",
        f"trainer.max_epochs={epochs}",
        "logger=csv",
        "extras.print_config=false",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    ]
    if not pruner:
        args.append("hydra.sweeper.pruner=null")
    env = {**os.environ, "BIASLAB_ROOT": str(tmp), "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "src/train.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )
    wall = time.perf_counter() - start
    study = optuna.load_study(study_name="bench", storage=db)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return {"wall_s": wall, "best": study.best_value, "pruned": pruned, "trials": len(study.trials)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    runs = {
        "no pruning": search(False, args.trials, args.epochs),
        "median pruner": search(True, args.trials, args.epochs),
    }
    base = runs["no pruning"]["wall_s"]
    print(f"digits CNN, {args.trials} trials x {args.epochs} epochs, TPE seed 1234")
    for name, r in runs.items():
        print(
            f"{name:14s} wall {r['wall_s']:6.1f} s ({r['wall_s'] / base:.2f}x)  best val/acc_best "
            f"{r['best']:.4f}  pruned {r['pruned']}/{r['trials']}"
        )


if __name__ == "__main__":
    main()
