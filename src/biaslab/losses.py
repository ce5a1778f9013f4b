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
    """Mean squared error between softmax(logits) and one-hot targets (the lecture's foil).

    With `softmax=True` a saturated wrong softmax has a vanishing gradient: the flat region
    that makes MSE harder to optimise than cross-entropy.
    """

    def __init__(self, softmax: bool = True) -> None:
        super().__init__()
        self.softmax = softmax

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if targets.dim() == 1:
            targets = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        outputs = logits.softmax(dim=-1) if self.softmax else logits
        return F.mse_loss(outputs, targets)
