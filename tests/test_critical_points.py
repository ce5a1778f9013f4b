"""The exact Hessian probe (A.3): full Hessian, its spectrum and the minimum ratio."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from biaslab.probes.critical_points import (
    flat_loss,
    full_hessian,
    grad_norm,
    minimise_grad_norm,
    minimum_ratio,
)
from biaslab.probes.curvature import lanczos


def _problem(seed: int = 0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x, y = torch.randn(40, 6, dtype=torch.float64), torch.randint(0, 3, (40,))
    return flat_loss(net, nn.CrossEntropyLoss(), x, y)


def test_the_hessian_matches_autograd_and_its_extremes_match_lanczos():
    fn, theta = _problem()
    hessian = full_hessian(fn, theta, chunk=7)  # chunks that do not divide P = 53
    expected = torch.autograd.functional.hessian(fn, theta)
    torch.testing.assert_close(hessian, expected, atol=1e-10, rtol=1e-8)
    eig = torch.linalg.eigvalsh(hessian)
    ritz = lanczos(lambda v: hessian @ v, theta.numel(), k=30)
    assert ritz.max() == pytest.approx(float(eig.max()), rel=1e-6)
    assert ritz.min() == pytest.approx(float(eig.min()), rel=1e-4, abs=1e-8)


def test_minimising_the_gradient_norm_reaches_a_critical_point_and_the_ratio_counts_positives():
    fn, theta = _problem(1)
    start = grad_norm(fn, theta)
    end_theta = minimise_grad_norm(fn, theta, steps=200)
    assert grad_norm(fn, end_theta) < start / 10
    assert minimum_ratio(torch.tensor([3.0, 1.0, -1.0, 1e-9])) == 0.5  # 1e-9: flat, not positive
    assert minimum_ratio(torch.tensor([3.0, 1.0, 2.0])) == 1.0


def test_the_probe_runs_on_a_small_model_and_refuses_a_big_one(train_fast, tmp_path):
    metrics = train_fast(
        "model=fc",
        "model.backbone.hidden=[8]",
        "model.backbone.activation=tanh",
        "probes=critical_points",
        "probes.critical_points.steps=20",
        "probes.critical_points.n_examples=64",
        path=tmp_path / "small",
    )
    assert metrics["critical/params"] == 64 * 8 + 8 + 8 * 10 + 10
    assert 0.0 <= metrics["critical/min_ratio"] <= 1.0
    assert metrics["critical/grad_norm"] < metrics["critical/grad_norm_0"]
    assert (tmp_path / "small" / "probes" / "critical_points.csv").exists()
    with pytest.raises(ValueError, match="max_params"):
        train_fast("model=fc", "probes=critical_points", path=tmp_path / "big")


def test_the_spectrum_sets_flat_directions_apart_and_certifies_against_the_negative_curvature():
    from biaslab.probes.critical_points import spectrum_metrics

    eig = torch.tensor([-0.5, 0.0, 1e-9, 2.0, 3.0, 4.0], dtype=torch.float64)
    m = spectrum_metrics(eig, grad=1e-3, rel_tol=1e-6, cert_tol=0.01)
    assert m["min_ratio"] == 3 / 6 and m["min_ratio_curved"] == 3 / 4
    assert m["flat_ratio"] == 2 / 6 and m["negative_ratio"] == 1 / 6
    assert m["certificate"] == pytest.approx(1e-3 / 0.5) and m["certified"] == 1.0
    assert spectrum_metrics(eig, grad=0.1)["certified"] == 0.0  # |g| / |lambda_min| = 0.2
    minimum = spectrum_metrics(torch.tensor([0.0, 0.5, 2.0]), grad=1e-4)
    assert minimum["min_ratio_curved"] == 1.0 and minimum["certificate"] == pytest.approx(2e-4)
