"""Classifier heads: (B, D) pooled features -> (B, num_classes) logits."""

from __future__ import annotations

import torch
from torch import nn

from biaslab.models.checks import check_rates, check_sizes


class LinearHead(nn.Module):
    """(B, D) -> (B, K): one linear layer, optional dropout before it."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_rates(dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(pooled))


class MLPHead(nn.Module):
    """(B, D) -> (B, hidden) -> GELU -> dropout -> (B, K)."""

    def __init__(
        self, in_features: int, num_classes: int, hidden: int = 128, dropout: float = 0.1
    ) -> None:
        super().__init__()
        check_sizes(hidden=hidden)  # hidden=0 gives zero features: logits fixed at the bias
        check_rates(dropout=dropout)
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled)
