"""Probes: Hessian spectra, saddle verdicts, invariance, attention maps, receptive fields, diagnosis."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from biaslab.models.cnn import CNN
from biaslab.probes import diagnose, diagnose_depth, invariance_table
from biaslab.probes.curvature import lanczos, loss_curvature
from biaslab.probes.receptive_field import analytic, measured


def test_hessian_recovers_a_known_spectrum_with_negative_eigenvalues():
    torch.manual_seed(0)
    spectrum = torch.tensor([-2.0, -0.5, 0.1, 1.0, 3.0, 7.0], dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    a = q @ torch.diag(spectrum) @ q.T
    x = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    c = loss_curvature(lambda: 0.5 * x @ a @ x, [x], k=6)
    assert c.largest == pytest.approx(7.0, abs=1e-3)
    assert c.smallest == pytest.approx(-2.0, abs=1e-3)
    ritz = lanczos(lambda v: a @ v, 6, k=6)
    torch.testing.assert_close(ritz, spectrum, atol=1e-3, rtol=0)
    assert c.positive_ratio == pytest.approx(4 / 6)


@pytest.mark.parametrize(
    ("f", "point", "kind"),
    [
        (lambda p: p[0] ** 2 - p[1] ** 2, [0.0, 0.0], "saddle"),
        (lambda p: p[0] ** 2 + 3 * p[1] ** 2, [0.0, 0.0], "local minimum"),
        (lambda p: p[0] ** 2 - p[1] ** 2, [1.0, 1.0], "not a critical point"),
    ],
)
def test_two_dimensional_critical_points(f, point, kind):
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    assert loss_curvature(lambda: f(p), [p], k=2).kind == kind


class CentrePixel(nn.Module):
    """Looks only at the centre pixel: exactly invariant to rotation and scale about the centre."""

    def forward(self, x):
        centre = x[:, 0, x.shape[2] // 2, x.shape[3] // 2]
        return torch.stack([centre, -centre], dim=1)


def test_invariance_probe_reports_equal_accuracy_for_an_invariant_model():
    torch.manual_seed(0)
    x = torch.randn(64, 1, 9, 9)
    y = (x[:, 0, 4, 4] < 0).long()
    rows = {r["transform"]: r for r in invariance_table(CentrePixel(), x, y)}
    assert rows["identity"]["accuracy"] == 1.0
    for name, row in rows.items():
        if name.startswith(("rotate", "scale")):
            assert row["accuracy"] == rows["identity"]["accuracy"], name
            assert row["agreement"] == 1.0, name
    assert rows["translate 1px"]["agreement"] < 1.0  # the probe does see what is not invariant


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channels": [8, 8], "convs_per_stage": 2, "downsample": "maxpool"},
        {"channels": [8, 8, 8], "convs_per_stage": 1, "downsample": "stride"},
        {"channels": [8, 8], "convs_per_stage": 2, "kernel_size": 5, "downsample": "avgpool"},
        {"channels": [8, 8, 8], "convs_per_stage": 2, "downsample": "none"},
    ],
)
def test_receptive_field_analytic_matches_gradients(kwargs):
    cnn = CNN([1, 8, 8], **kwargs)
    rows = analytic(cnn.features)
    assert measured(cnn.features, 1, size=96) == rows[-1]["rf"]


def test_receptive_field_of_two_3x3_convs_is_5():
    assert analytic(CNN([1, 8, 8], channels=[4], convs_per_stage=2).features)[-1]["rf"] == 5


def test_diagnosis_follows_the_lecture():
    assert diagnose(0.5, 0.48, 1.2, 1.3).startswith("high training loss")
    assert diagnose(0.99, 0.80, 0.01, 0.9).startswith("low training loss but validation")
    assert diagnose(0.99, 0.98, 0.01, 0.05).startswith("fits and generalises")
    flags = diagnose_depth([{"depth": 20, "train_loss": 0.1}, {"depth": 56, "train_loss": 0.3}])
    assert flags and "optimisation problem" in flags[0]
    assert not diagnose_depth([{"depth": 20, "train_loss": 0.3}, {"depth": 56, "train_loss": 0.1}])


def test_all_probes_run_in_a_training_run(train_fast, tmp_path):
    import csv

    train_fast("model=vit", "probes=all", "trainer.max_epochs=2", "trainer.limit_test_batches=null")
    out = tmp_path / "probes"
    for name in (
        "attention.png",
        "attention.csv",
        "pe_similarity_start.png",
        "pe_similarity_end.csv",
        "invariance.csv",
        "invariance.png",
        "hessian.csv",
        "diagnosis.txt",
    ):
        assert (out / name).exists(), name
    maps = torch.load(out / "attention_maps.pt")
    for w in maps:
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    with open(out / "hessian.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[-1]["kind"] in ("saddle", "local minimum", "not a critical point")
    assert float(rows[-1]["largest"]) >= float(rows[-1]["smallest"])


def test_receptive_field_probe_in_a_cnn_run(train_fast, tmp_path):
    train_fast("probes=diagnosis")
    text = (tmp_path / "probes" / "receptive_field.csv").read_text()
    assert "measured_rf" in text


@pytest.mark.slow
def test_probes_log_images_and_tables_to_wandb(train_fast, tmp_path):
    from biaslab.utils.wandb_files import find_run_files, read_records
    from tests.conftest import eventually

    train_fast("model=vit", "probes=all", "logger=wandb", "trainer.max_epochs=1")
    (run_file,) = find_run_files(tmp_path)

    def keys() -> set[str]:
        found = set()
        for record in read_records(run_file):
            if record.WhichOneof("record_type") == "history":
                found |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        return found

    # W&B stores a table or an image as a nested record: <key>/_type, <key>/path, ...
    want = {
        "probes/attention/_type",
        "probes/attention_plot/_type",
        "probes/invariance/_type",
        "probes/invariance_plot/_type",
        "hessian/largest",
    }
    assert want <= eventually(keys, want.issubset)


def test_pe_similarity_on_seq_attn_image_rows_is_one_row_per_token(tmp_path):
    """The table has one vector per token of `backbone.token_grid`: 8 rows of an 8x8 digit."""
    from biaslab.probes import PESimilarity
    from tests.conftest import compose

    cfg = compose(["model=seq_attn", "model.backbone.tokens=rows", "pe=learned"], tmp_path)
    from biaslab.run.build import build_components

    _, module = build_components(cfg)
    sim = PESimilarity.table(module.net.backbone)
    assert sim.shape == (8, 8)
    torch.testing.assert_close(sim.diagonal(), torch.ones(8))
