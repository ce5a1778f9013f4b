"""The default run's console, as `make train` shows it: a short header, the progress bar and
the result table with the run's cost; the config tree is saved, printed only when asked."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT

# the default config, cut to a few batches: the console's lines do not depend on the epochs
SHORT = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]
BAR = re.compile(r"━|^\s{20,}[\w/]+: \S+\s*$")  # the bar, and its metrics under it (rich)
MOST_LINES = 40


def test_the_default_run_prints_a_header_the_bar_and_the_result_table(tmp_path):
    """The default logger (W&B, offline without a key, its console not silenced), progress bar
    on: at most 40 lines besides the bar; the header names model, data, device and run dir; the
    table and the steps per second come last; no config tree on the console, but in the run dir."""
    from biaslab.run.files import RunDir

    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_SILENT", "WANDB_API_KEY")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "src" / "train.py"), f"hydra.run.dir={run}", *SHORT],
        cwd=tmp_path,
        env={**env, "WANDB_MODE": "offline"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [ln for ln in (out.stdout + out.stderr).splitlines() if not BAR.search(ln)]
    assert len(lines) <= MOST_LINES, "\n".join(lines)
    text = "\n".join(lines)
    assert re.search(r"^biaslab: model=cnn data=digits \(10 classes of 1x8x8\)$", text, re.M)
    assert re.search(r"^1 epoch, seed 0, on (CPU: .+ \(\d+ cores\)|.+); logger: wandb$", text, re.M)
    assert f"run dir: {run} " in text
    assert "Final metrics" in text and re.search(r"│ test/acc +│ +0\.\d{4} │", text)
    assert re.search(r"^Cost: 3 steps in [\d.]+ s of fitting \([\d.]+ steps/s\)", text, re.M)
    assert out.stdout.rstrip().splitlines()[-1] == f"Run dir: {run}"
    assert "CONFIG" not in text and "wandb: Run history" not in text and "Warning" not in text
    assert RunDir(run).config_tree.read_text().startswith("CONFIG")
