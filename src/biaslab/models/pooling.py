"""Global pooling: turn a backbone's features into one vector per example.

Every pool takes features as tokens (B, N, C) or as a feature map (B, C, H, W), which is
read as H*W tokens, and returns (B, D). Each pool has a `name` (its `pooling=` option); each
backbone lists the names that fit it in its `poolings` (`biaslab.models.backbone.Backbone`).
"""

from __future__ import annotations

import torch
from torch import nn


def as_tokens(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) feature map -> (B, H*W, C) tokens; (B, N, C) passes through."""
    if features.dim() == 4:
        return features.flatten(2).transpose(1, 2)
    return features


class MeanPool(nn.Module):
    """(B, N, C) -> (B, C): average over positions (permutation invariant)."""

    name = "mean"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features).mean(dim=1)


class MaxPool(nn.Module):
    """(B, N, C) -> (B, C): maximum over positions (permutation invariant)."""

    name = "max"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features).amax(dim=1)


class FlattenPool(nn.Module):
    """(B, N, C) -> (B, N*C): keep every position (the classic conv -> flatten -> FC)."""

    name = "flatten"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features).flatten(1)


class ClsPool(nn.Module):
    """(B, 1+N, C) -> (B, C): the class token, which the backbone prepends (`class_token=True`)."""

    name = "cls"
    uses_class_token = True

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features)[:, 0]


class AttnPool(nn.Module):
    """(B, N, C) -> (B, C): one learned query attends over all tokens (single head).

    Permutation invariant like mean pooling, but the weights depend on the content.
    """

    name = "attn"

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


class LastPool(nn.Module):
    """(B, N, C) -> (B, C): the last position (the usual read-out of a recurrent network)."""

    name = "last"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features)[:, -1]


class TokenPool(nn.Module):
    """(B, N, C) -> (B, N, C): no pooling, one output per token, for labelling tasks (a label
    per token or node); the head then maps every token to (B, N, K)."""

    name = "tokens"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return as_tokens(features)
