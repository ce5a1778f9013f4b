"""biaslab.models.params (and its command line, scripts/params.py) reproduces the lecture's arithmetic and counts any model config."""

from __future__ import annotations

import subprocess
import sys

import pytest

from biaslab.models import params
from biaslab.run import model_params
from tests.conftest import ROOT


def test_lecture_arithmetic():
    rows = {name: (w, b) for name, w, b in params.lecture_rows()}
    assert rows["dense 30,000 -> 1,000 units"] == (30_000_000, 1_000)
    assert rows["dense 30,000 -> 30,000 units (100x100x3)"] == (900_000_000, 30_000)
    assert rows["conv 3x3, 3 -> 3 channels (100x100x3 out)"] == (81, 3)


def test_model_counts_match_torch_at_any_input_shape():
    from biaslab.models.vit import ViT

    rows, shape = model_params.model_rows(["model=vit", "data.input_shape=[3,32,32]"])
    assert shape == [3, 32, 32]
    total = sum(w + b for *_, w, b in rows)
    vit = ViT([3, 32, 32], patch_size=4, dim=64, depth=4, heads=4, mlp_ratio=2.0)
    head = 64 * 10 + 10
    assert total == sum(p.numel() for p in vit.parameters()) + head


def test_cli_prints_total():
    out = subprocess.run(
        [sys.executable, "scripts/params.py", "model=fc", "data.input_shape=[3,100,100]"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "7,680,000" in out.stdout  # Linear(30,000 -> 256) weights
    assert out.stdout.strip().splitlines()[-1].startswith("total")


@pytest.mark.slow
def test_match_width_finds_the_width_of_a_parameter_count():
    match_width, total_params = model_params.match_width, model_params.total_params
    target = total_params(["model=vit", "model.backbone.dim=96"])
    width, count = match_width(["model=vit"], "model.backbone.dim", target, multiple=8)
    assert (width, count) == (96, target)
    width, count = match_width(["model=vit"], "model.backbone.dim", target + 500, multiple=8)
    assert width == 96  # the nearest multiple of 8, not the next one up
