"""The exact Hessian of a small model (<= `max_params` parameters) at a critical point (A.3).

As in the lecture's "minimum ratio" figure: from the trained weights, the gradient norm of the
training loss on a fixed batch is driven towards zero (L-BFGS on |g|^2 / 2, whose gradient is a
Hessian-vector product); there the full Hessian is built (one batched Hessian-vector product per
chunk of rows), its eigenvalues taken in float64, and the minimum ratio = share of positive
eigenvalues reported: 1 at a strict local minimum, < 1 at a saddle point. The Lanczos probe
(`HessianProbe`) estimates only the extremes; this one is exact, so it is for small models only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch.func import functional_call

from biaslab.probes.base import Probe, pyplot

FlatLoss = Callable[[torch.Tensor], torch.Tensor]


def flat_loss(
    module: torch.nn.Module, loss: Callable, inputs, targets
) -> tuple[FlatLoss, torch.Tensor]:
    """(loss as a function of one flat parameter vector, the current vector)."""
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    shapes = [p.shape for n, p in module.named_parameters() if p.requires_grad]
    theta = torch.cat(
        [p.detach().reshape(-1) for n, p in module.named_parameters() if p.requires_grad]
    )

    def fn(flat: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            params[name] = flat[i : i + math.prod(shape)].view(shape)
            i += math.prod(shape)
        return loss(functional_call(module, params, (inputs,)), targets)

    return fn, theta


def full_hessian(fn: FlatLoss, theta: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """(P, P) Hessian of fn at theta: rows H e_i by batched double backward, `chunk` at a time."""
    theta = theta.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(theta), theta, create_graph=True)
    p = theta.numel()
    rows = []
    for start in range(0, p, chunk):
        eye = torch.zeros(min(chunk, p - start), p, dtype=theta.dtype, device=theta.device)
        eye[:, start : start + len(eye)].fill_diagonal_(1.0)
        (block,) = torch.autograd.grad(grad, theta, eye, retain_graph=True, is_grads_batched=True)
        rows.append(block)
    hessian = torch.cat(rows)
    return (hessian + hessian.T) / 2  # exact up to float rounding; symmetric for eigvalsh


def minimise_grad_norm(fn: FlatLoss, theta: torch.Tensor, steps: int = 500) -> torch.Tensor:
    """theta after up to `steps` L-BFGS iterations (strong Wolfe line search) on |grad fn|^2 / 2:
    a point where the gradient is near 0 (a minimum, a saddle or a flat region: the Hessian
    there decides). Needs a smooth loss surface (tanh, not ReLU: its kinks stall the search)."""
    theta = theta.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [theta],
        lr=1.0,
        max_iter=steps,
        history_size=50,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        (grad,) = torch.autograd.grad(fn(theta), theta, create_graph=True)
        value = 0.5 * grad.pow(2).sum()
        value.backward()
        return value

    opt.step(closure)
    return theta.detach()


def grad_norm(fn: FlatLoss, theta: torch.Tensor) -> float:
    theta = theta.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(theta), theta)
    return float(grad.norm())


def minimum_ratio(eigenvalues: torch.Tensor, rel_tol: float = 1e-6) -> float:
    """Share of positive eigenvalues; |lambda| <= rel_tol * max|lambda| counts as zero (flat)."""
    tol = rel_tol * float(eigenvalues.abs().max())
    return float((eigenvalues > tol).double().mean())


def spectrum_metrics(
    eig: torch.Tensor, grad: float, rel_tol: float = 1e-6, cert_tol: float = 0.01
) -> dict[str, float]:
    """The spectrum read three ways: the minimum ratio over all eigenvalues (flat ones count as
    not positive), over the curved ones only (flat ones set apart), and the flat share; and the
    certificate: the gradient norm against the most negative curvature, |g| / |lambda_min|,
    the length of the Newton step along that direction. Below `cert_tol` the point counts as a
    certified critical point (its saddle direction is not an artefact of a gradient that is
    still large); at a minimum (no negative eigenvalue) the smallest curved |lambda| is used."""
    zero = rel_tol * float(eig.abs().max())
    positive, negative = int((eig > zero).sum()), int((eig < -zero).sum())
    curved = eig[eig.abs() > zero]
    scale = float(-eig.min()) if negative else float(curved.abs().min()) if len(curved) else 0.0
    certificate = grad / scale if scale > 0 else math.inf
    return {
        "min_ratio": positive / len(eig),
        "min_ratio_curved": positive / max(1, positive + negative),
        "negative_ratio": negative / len(eig),
        "flat_ratio": (len(eig) - positive - negative) / len(eig),
        "certificate": certificate,
        "certified": float(certificate <= cert_tol),
    }


class CriticalPoints(Probe):
    """At the end of training: gradient-norm minimisation from the trained weights on a fixed
    batch of `n_examples` training examples, then the exact Hessian's spectrum. Metrics
    `critical/min_ratio` (all eigenvalues), `critical/min_ratio_curved` (flat ones set apart),
    `critical/negative_ratio`, `critical/flat_ratio` (|eigenvalue| <= rel_tol x the largest),
    `critical/certificate` (|g| / |lambda_min|) and `critical/certified` (<= cert_tol),
    `critical/loss`, `critical/grad_norm` (before: `critical/grad_norm_0`), `critical/smallest`,
    `critical/largest`; the eigenvalues go to probes/critical_points.csv and a histogram. The
    search runs in float64, so the gradient can fall far below float32's rounding."""

    def __init__(
        self,
        n_examples: int = 1000,
        steps: int = 500,
        max_params: int = 5000,
        rel_tol: float = 1e-6,
        cert_tol: float = 0.01,
    ) -> None:
        self.n_examples, self.steps = n_examples, steps
        self.max_params, self.rel_tol, self.cert_tol = max_params, rel_tol, cert_tol

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        n = sum(p.numel() for p in pl_module.parameters() if p.requires_grad)
        if n > self.max_params:
            raise ValueError(
                f"probes.critical_points builds the full Hessian: the model has {n:,} parameters, "
                f"more than probes.critical_points.max_params={self.max_params:,}; use a smaller "
                "model or probes=hessian (Lanczos)."
            )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        dm = trainer.datamodule
        x, y = dm.splits["train"]
        x, y = x[: self.n_examples].to(pl_module.device), y[: self.n_examples].to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        with torch.enable_grad():
            pl_module.double()
            fn, theta = flat_loss(pl_module, pl_module.criterion, x.double(), y)
            g0 = grad_norm(fn, theta)
            theta = minimise_grad_norm(fn, theta, self.steps)
            eig = torch.linalg.eigvalsh(full_hessian(fn, theta))
            g1, loss = grad_norm(fn, theta), float(fn(theta))
            pl_module.float()
        pl_module.train(was_training)
        metrics = {
            **spectrum_metrics(eig, g1, self.rel_tol, self.cert_tol),
            "loss": loss,
            "grad_norm": g1,
            "grad_norm_0": g0,
            "smallest": float(eig.min()),
            "largest": float(eig.max()),
            "params": float(len(eig)),
        }
        for k, v in metrics.items():
            trainer.callback_metrics[f"critical/{k}"] = torch.tensor(v)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist(eig.numpy(), bins=80, log=True)
        ax.set_xlabel("Hessian eigenvalue")
        ax.set_title(
            f"min ratio {metrics['min_ratio']:.3f}, |g| {g1:.1e}, loss {loss:.3f}", fontsize=8
        )
        fig.tight_layout()
        rows: list[dict[str, Any]] = [{"eigenvalue": float(v)} for v in eig]
        self.save(trainer, "critical_points", rows, fig)
