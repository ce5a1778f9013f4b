"""A trained model outside the lab: predictions to a CSV and an exported model, through the
command lines, for a CNN, a ViT and a sequence transformer."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import FAST, ROOT, compose

MODELS = {
    "cnn": ["model=cnn"],
    "vit": ["model=vit"],
    "seq_attn": ["data=seq_majority", "model=seq_attn", "data.num_train=64", "data.num_val=32"],
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from biaslab.run.train import train

    out = {}
    for name, overrides in MODELS.items():
        run = tmp_path_factory.mktemp(name)
        train(
            compose(
                [*FAST, *overrides, "data.num_test=32" if name == "seq_attn" else "seed=0"], run
            )
        )
        out[name] = run / "checkpoints" / "last.ckpt"
    return out


def predicted(ckpt, out, *args: str) -> list[dict[str, str]]:
    """src/predict.py's CSV rows for a checkpoint (the run dir `out`)."""
    done = cli("predict.py", f"ckpt_path={ckpt}", f"hydra.run.dir={out}", *args, cwd=out.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / "predictions.csv") as f:
        return list(csv.DictReader(f))


def cli(script: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / script), *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn", "vit", "seq_attn"])
def test_export_matches_the_checkpoints_logits_and_predict_writes_its_rows(
    checkpoints, name, tmp_path
):
    done = cli(
        "export.py", f"ckpt_path={checkpoints[name]}", f"hydra.run.dir={tmp_path}", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    program = torch.export.load(tmp_path / "model.pt2").module()
    from biaslab.run.predict import load_model

    model = load_model(str(checkpoints[name]))
    x = torch.randint(0, 8, (3, 16)) if name == "seq_attn" else torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert float((program(x) - model(x)).abs().max()) <= 1e-4
    rows = predicted(checkpoints[name], tmp_path / "p")
    logits = model(x)
    assert rows and len(rows[0]) == 4 + logits.shape[-1]  # example, pred, prob, target, p0..pK-1


@pytest.mark.slow
def test_predict_writes_a_row_per_example_from_a_split_and_from_an_array(checkpoints, tmp_path):
    rows = predicted(checkpoints["cnn"], tmp_path / "a")
    assert len(rows) == 270 and {"example", "pred", "prob", "target", "p9"} <= set(rows[0])
    assert all(abs(sum(float(r[f"p{c}"]) for c in range(10)) - 1) < 1e-4 for r in rows[:20])
    array = tmp_path / "x.npy"
    np.save(array, np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32))
    rows = predicted(checkpoints["cnn"], tmp_path / "b", f"input={array}")
    assert [r["example"] for r in rows] == [f"x.npy[{i}]" for i in range(5)]
    assert "target" not in rows[0]
