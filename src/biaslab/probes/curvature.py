"""Curvature at a point of the loss: extreme Hessian eigenvalues through Hessian-vector products.

Lanczos with full reorthogonalisation builds a k x k tridiagonal matrix whose eigenvalues (Ritz
values) approach the Hessian's extremes; for k >= the dimension they are exact. The lecture's
test: gradient ~ 0 and all eigenvalues > 0 -> local minimum; mixed signs -> saddle point (escape
along the eigenvector of a negative eigenvalue).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def lanczos(
    hvp: Callable[[torch.Tensor], torch.Tensor], dim: int, k: int = 20, seed: int = 0
) -> torch.Tensor:
    """Ritz values (ascending) of the symmetric operator `hvp` on R^dim after k steps."""
    k = min(k, dim)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(dim, generator=g, dtype=torch.float64)
    q /= q.norm()
    basis, alphas, betas = [q], [], []
    for j in range(k):
        w = hvp(basis[j]).to(torch.float64)
        alpha = torch.dot(w, basis[j])
        alphas.append(alpha)
        for v in basis:  # full reorthogonalisation: exact in exact arithmetic, stable in floats
            w -= torch.dot(w, v) * v
        beta = w.norm()
        if j == k - 1 or beta < 1e-10:
            break
        betas.append(beta)
        basis.append(w / beta)
    n = len(alphas)
    tri = torch.diag(torch.stack(alphas))
    if n > 1:
        off = torch.stack(betas[: n - 1])
        tri += torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigvalsh(tri)


@dataclass
class Curvature:
    """What the probe reports about one point of the loss surface."""

    largest: float
    smallest: float
    grad_norm: float
    positive_ratio: float  # share of positive Ritz values: the lecture's "minimum ratio"
    near_critical: bool
    kind: str  # "saddle", "local minimum" or "not a critical point"


def classify(
    ritz: torch.Tensor, grad_norm: float, grad_tol: float, neg_tol: float = 1e-3
) -> Curvature:
    largest, smallest = float(ritz.max()), float(ritz.min())
    scale = max(abs(largest), abs(smallest), 1e-12)
    near = grad_norm <= grad_tol
    if not near:
        kind = "not a critical point"
    elif smallest < -neg_tol * scale:
        kind = "saddle"
    else:
        kind = "local minimum"
    return Curvature(largest, smallest, grad_norm, float((ritz > 0).double().mean()), near, kind)


def loss_curvature(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    k: int = 20,
    grad_tol: float = 1e-2,
    seed: int = 0,
) -> Curvature:
    """Curvature of `loss_fn()` at the current `params` (a fixed batch inside loss_fn)."""
    params = [p for p in params if p.requires_grad]
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat_grad = torch.cat([g.reshape(-1) for g in grads])

    def hvp(vector: torch.Tensor) -> torch.Tensor:
        """H v = d(g . v)/d params, with g the gradient (kept in the graph)."""
        v = vector.to(flat_grad.dtype)
        hv = torch.autograd.grad(
            (flat_grad * v).sum(), params, retain_graph=True, allow_unused=True
        )
        return torch.cat(
            [(h if h is not None else torch.zeros_like(p)).reshape(-1) for h, p in zip(hv, params)]
        ).detach()

    ritz = lanczos(hvp, flat_grad.numel(), k, seed)
    return classify(ritz, float(flat_grad.detach().norm()), grad_tol)
