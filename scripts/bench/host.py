"""This host against the one a page was measured on: published runs trained again here, whole,
two at once (one thread each, as the pages' jobs ran), their wall time set against the page's.

    python scripts/bench/host.py [PRESET RUN [RUN]]   (default: data_scaling model-cnn_17k/0
                                                        model-vit_18k/0)

RUN is a row of docs/results/PRESET/runs.csv (its `run` column). Hosts cannot be measured side
by side, so the ratio is this host's `time/total_s` over the one the page's run recorded (same
overrides, same seed, same code where the tree is the page's commit); test accuracy is printed
too, to show the run is the same one. Steps alone do not predict it: short runs of a preset's
first arm read 1.2-2.3x on pages made on this very kind of CPU.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from biaslab.analysis.pack import TABLE
from biaslab.run.files import find_runs

ROOT = Path(__file__).resolve().parents[2]


def main(preset: str, runs: list[str]) -> None:
    table = ROOT / "docs" / "results" / preset / TABLE
    if not table.exists():
        raise SystemExit(f"{preset!r} has no published page ({table} is missing)")
    with table.open() as rows:
        page = {row["run"]: row for row in csv.DictReader(rows)}
    unknown = [run for run in runs if run not in page]
    if not runs or len(runs) > 2 or unknown:
        raise SystemExit(f"name one or two runs of docs/results/{preset}/runs.csv: {unknown}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for run in runs:
            out = Path(tmp) / run.replace("/", "_")
            dirs = [f"hydra.run.dir={out}", f"hydra.sweep.dir={out}"]  # a preset is a sweep
            cmd = [sys.executable, "src/train.py", *page[run]["overrides"].split(), *dirs]
            jobs.append((run, out, subprocess.Popen(cmd, cwd=ROOT, env=env, **QUIET)))
        for run, out, job in jobs:
            if job.wait():
                raise SystemExit(f"{preset} {run} failed here")
            here = find_runs(out)[0].read_metrics()
            there = float(page[run]["time/total_s"])
            print(
                f"{preset} {run}: {there:.1f} s on the page ({page[run].get('device') or '?'}), "
                f"{here['time/total_s']:.1f} s here: {here['time/total_s'] / there:.2f}x; "
                f"test/acc {float(page[run]['test/acc']):.4f} there, {here['test/acc']:.4f} here"
            )


QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

if __name__ == "__main__":
    given = sys.argv[1:] or ["data_scaling", "model-cnn_17k/0", "model-vit_18k/0"]
    main(given[0], given[1:])
