"""Losses on (B, K) logits and (B,) integer targets, or (B, K) soft targets (mixup/cutmix)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CrossEntropy(nn.Module):
    """Softmax cross-entropy, with label smoothing; accepts class ids or soft targets."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)


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
