"""Global pooling: turn a backbone's features into one vector per example.

Every pool takes features as tokens (B, N, C) or as a feature map (B, C, H, W), which is
read as H*W tokens, and returns (B, D). Each pool declares the layouts it reads (`takes`, see
`biaslab.models.layouts`): it fits every backbone whose `emits` is one of them, so a new pooling
is a new file and its `conf/pooling/<name>.yaml`, with no list to edit.
"""

from __future__ import annotations

import torch
from torch import nn

ANY = frozenset({"grid", "tokens", "set", "vector"})
ORDERED = frozenset({"grid", "tokens", "vector"})  # positions with an order (flatten keeps it)


class Pooling(nn.Module):
    """Base of the pools: `takes` (layouts read), `uses_class_token`; built as `pool(dim=C)`."""

    takes: frozenset[str] = ANY
    uses_class_token: bool = False

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()


def as_tokens(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) feature map -> (B, H*W, C) tokens; (B, N, C) passes through."""
    if features.dim() == 4:
        return features.flatten(2).transpose(1, 2)
    return features


class MeanPool(Pooling):
    """(B, N, C) -> (B, C): average over positions (permutation invariant)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features).mean(dim=1)


class MaxPool(Pooling):
    """(B, N, C) -> (B, C): maximum over positions (permutation invariant)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features).amax(dim=1)


class FlattenPool(Pooling):
    """(B, N, C) -> (B, N*C): keep every position (the classic conv -> flatten -> FC)."""

    takes = ORDERED

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features).flatten(1)


class ClsPool(Pooling):
    """(B, 1+N, C) -> (B, C): the class token, which the backbone prepends (`class_token=True`)."""

    takes = frozenset({"tokens"})
    uses_class_token = True

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features)[:, 0]


class AttnPool(Pooling):
    """(B, N, C) -> (B, C): one learned query attends over all tokens (single head).

    Permutation invariant like mean pooling, but the weights depend on the content.
    """

    takes = frozenset({"grid", "tokens", "set"})

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(dim) * 0.02)
        self.key = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(as_tokens(features))  # (B, N, C)
        scores = self.key(tokens) @ self.query / tokens.shape[-1] ** 0.5  # (B, N)
        weights = scores.softmax(dim=1)
        return (weights.unsqueeze(-1) * tokens).sum(dim=1)


class LastPool(Pooling):
    """(B, N, C) -> (B, C): the last position (the usual read-out of a recurrent network)."""

    takes = frozenset({"tokens"})  # the last of ordered positions

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features)[:, -1]


class TokenPool(Pooling):
    """(B, N, C) -> (B, N, C): no pooling, one output per token, for labelling tasks (a label
    per token or node); the head then maps every token to (B, N, K)."""

    takes = frozenset({"tokens", "set"})  # one output per position: a label each

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features)
