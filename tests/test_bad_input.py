"""Bad input, as a user types it: one sentence naming the key and the fix, no traceback, exit != 0,
and nothing trained."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import data_files
from tests.conftest import ROOT

CASES = {
    "batch_size": (["data.batch_size=0"], "data.batch_size=0 must be a positive integer"),
    "train_fraction": (["data.train_fraction=0"], "data.train_fraction=0"),
    "ckpt_path": (["ckpt_path=/nowhere/x.ckpt"], "ckpt_path=/nowhere/x.ckpt is not a file"),
    "seed": (["seed=abc"], "seed=abc is not an integer"),
    "lr": (["optimizer.lr=-1"], "optimizer.lr=-1"),
    "unknown_key": (["+data.batchsize=32"], "data.batchsize is not an option"),
    "pooling": (["model=cnn", "pooling=cls"], "pooling=cls does not fit model.backbone CNN"),
    "not_an_image": (
        ["data=imagefolder", "data.image_size=16", "data.num_workers=0"],
        "notes.png under data.root is not an image",
    ),
}


def run_cli(tmp_path, *overrides: str, full_error: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    env.pop("HYDRA_FULL_ERROR", None)
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    return subprocess.run(
        [sys.executable, "src/train.py", "logger=csv", "trainer.max_epochs=1", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_sentence_without_traceback(case, tmp_path):
    overrides, expected = CASES[case]
    if case == "not_an_image":
        root = data_files.write_image_folder(tmp_path / "food")
        (root / "train" / "class_1" / "notes.png").write_text("not an image")
        overrides = [*overrides, f"data.root={root}"]
    result = run_cli(tmp_path, *overrides)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert line.rstrip().endswith(".") and line.count(". ") == 0  # one sentence
    assert not list(tmp_path.rglob("*.ckpt"))  # nothing trained


def test_hydra_full_error_shows_the_traceback(tmp_path):
    result = run_cli(tmp_path, "data.batch_size=0", full_error=True)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "data.batch_size=0" in result.stderr
