"""Losses on (B, K) logits and (B,) integer targets, or (B, K) soft targets (mixup/cutmix).

Cross-entropy is torch's own `nn.CrossEntropyLoss` (conf/loss/cross_entropy.yaml).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def per_example(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Token labelling (logits (B, N, K), targets (B, N)) -> (B*N, K), (B*N,): every token is
    one example for the loss and the metrics. Classification passes through."""
    if logits.dim() == 3:
        return logits.flatten(0, 1), targets.flatten()
    return logits, targets


class OneHotMSE(nn.Module):
    """Squared error between softmax(logits) (or the logits) and one-hot targets, (B, K) and
    (B,) -> a scalar: summed over the K classes, averaged over examples (`reduction="sum"`), the
    per-example ||y - p||^2 of the lecture; `reduction="mean"` averages over classes too, which
    divides the gradient by K (the older runs' form).

    With `softmax=True` a saturated wrong softmax has a vanishing gradient: the flat region
    that makes MSE harder to optimise than cross-entropy. `softmax=False` is MSE on logits
    (Hui & Belkin 2021), which has no such region.
    """

    REDUCTIONS = ("sum", "mean")

    def __init__(self, softmax: bool = True, reduction: str = "sum") -> None:
        super().__init__()
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"reduction={reduction!r}: choose one of {self.REDUCTIONS}.")
        self.softmax, self.reduction = softmax, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if targets.dim() == 1:
            targets = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        outputs = logits.softmax(dim=-1) if self.softmax else logits
        squared = (outputs - targets).pow(2)
        return squared.sum(-1).mean() if self.reduction == "sum" else squared.mean()
