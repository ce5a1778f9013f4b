"""Positional encodings. Each takes tokens (B, N, C) and returns (B, N, C).

Built as `pe(dim=C, grid=(gh, gw))` by the backbone (grid = (N,) for a 1-D sequence).
Additive encodings add a (N, C) table; `RotaryPE` leaves tokens alone and rotates queries and
keys inside attention instead (`rotary = True`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def sinusoidal_table(length: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """(length, dim): PE[pos, 2i] = sin(pos / base^(2i/dim)), PE[pos, 2i+1] = cos(same)."""
    pos = torch.arange(length, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)  # (dim/2,)
    angle = pos / base ** (two_i / dim)  # (L, dim/2)
    table = torch.empty(length, dim, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = angle.sin(), angle.cos()
    return table.float()


class NoPE(nn.Module):
    """No position information: self-attention then sees the tokens as a set."""

    rotary = False

    def __init__(self, dim: int, grid: Sequence[int] = ()) -> None:
        super().__init__()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens


class SinusoidalPE(nn.Module):
    """The Transformer's fixed sinusoids, interleaved sin/cos; any length (extrapolates)."""

    rotary = False

    def __init__(self, dim: int, grid: Sequence[int] = (), base: float = 10000.0) -> None:
        super().__init__()
        self.dim, self.base = dim, base
        self.register_buffer(
            "table", sinusoidal_table(max(1, math.prod(grid)), dim, base), persistent=False
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        if n > self.table.shape[0]:
            self.table = sinusoidal_table(n, self.dim, self.base).to(tokens.device)
        return tokens + self.table[:n].to(tokens.dtype)


class Sinusoidal2dPE(nn.Module):
    """Sinusoids per axis of a (gh, gw) patch grid: first half of the channels encode the row,
    second half the column (needs dim divisible by 4)."""

    rotary = False

    def __init__(self, dim: int, grid: Sequence[int], base: float = 10000.0) -> None:
        super().__init__()
        gh, gw = (grid[0], 1) if len(grid) == 1 else grid
        rows = sinusoidal_table(gh, dim // 2, base)  # (gh, C/2)
        cols = sinusoidal_table(gw, dim // 2, base)  # (gw, C/2)
        table = torch.cat(
            [rows[:, None].expand(gh, gw, -1), cols[None].expand(gh, gw, -1)], dim=-1
        ).reshape(gh * gw, dim)
        self.register_buffer("table", table, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.table[: tokens.shape[1]].to(tokens.dtype)


class LearnedPE(nn.Module):
    """BERT-style: a learned (max_len, C) table, init N(0, 0.02); longer inputs are refused."""

    rotary = False

    def __init__(self, dim: int, grid: Sequence[int] = (), max_len: int = 512) -> None:
        super().__init__()
        self.max_len = max_len
        self.table = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        if n > self.max_len:
            raise ValueError(
                f"pe.max_len={self.max_len} is shorter than {n} tokens; raise pe.max_len."
            )
        return tokens + self.table[:n]


class NaivePE(nn.Module):
    """The lecture's weak baseline: the scalar pos / (N-1) added to every channel.

    Its scale depends on the length: neighbours in a long input differ by less than distant
    tokens in a short one.
    """

    rotary = False

    def __init__(self, dim: int, grid: Sequence[int] = ()) -> None:
        super().__init__()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        pos = torch.arange(n, device=tokens.device, dtype=tokens.dtype) / max(1, n - 1)
        return tokens + pos[None, :, None]


class RotaryPE(nn.Module):
    """RoPE: rotate each (2i, 2i+1) pair of q and k by pos * base^(-2i/d_head).

    Scores q_m . k_n then depend on m - n only. Tokens pass through unchanged.
    """

    rotary = True

    def __init__(self, dim: int, grid: Sequence[int] = (), base: float = 10000.0) -> None:
        super().__init__()
        self.base = base

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, N, d) -> (B, H, N, d), d even."""
        n, d = x.shape[-2], x.shape[-1]
        inv_freq = self.base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
        angle = (
            torch.arange(n, device=x.device, dtype=torch.float32)[:, None] * inv_freq
        )  # (N, d/2)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        even, odd = x[..., 0::2], x[..., 1::2]
        return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)
