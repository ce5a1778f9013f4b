"""Positional encodings on one contract: `PositionalEncoding` and its three no-op hooks.

A PE is built by the encoder as `pe(dim=C, grid=(gh, gw), heads=H)` (grid = (N,) for a 1-D
sequence) and overrides only the hooks it needs:
- `add(tokens)`: (B, N, C) -> (B, N, C), e.g. a sinusoid or learned table added to the tokens;
- `rotate(q, k)`: (B, H, N, d) each -> the same, e.g. RoPE;
- `attn_bias(n)`: an additive (H, N, N) or (N, N) `attn_mask` for the attention scores, or None.
Attention receives only the rotate hook and the additive mask, so it never knows which PE runs.
Constructor checks (an even width, a table long enough) raise one sentence naming the key.
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


class PositionalEncoding(nn.Module):
    """Base and `pe=none`: every hook is a no-op, so self-attention sees the tokens as a set."""

    def __init__(self, dim: int, grid: Sequence[int] = (), heads: int = 1) -> None:
        super().__init__()
        self.dim, self.grid, self.heads = dim, tuple(int(g) for g in grid), heads

    def add(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, C) token embeddings -> (B, N, C) with positions added."""
        return tokens

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries and keys (B, H, N, d) -> the same, rotated by position."""
        return q, k

    def attn_bias(self, n: int, device: torch.device | None = None) -> torch.Tensor | None:
        """An additive (H, N, N) or (N, N) bias on the attention scores of N tokens, or None."""
        return None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.add(tokens)


NoPE = PositionalEncoding


class SinusoidalPE(PositionalEncoding):
    """The Transformer's fixed sinusoids, interleaved sin/cos; any length (extrapolates)."""

    def __init__(self, dim: int, grid: Sequence[int] = (), heads: int = 1, base: float = 10000.0):
        super().__init__(dim, grid, heads)
        if dim % 2:
            raise ValueError(
                f"pe=sinusoidal needs an even model.backbone.dim (got {dim}); set an even dim."
            )
        self.base = base
        self.register_buffer(
            "table", sinusoidal_table(max(1, math.prod(grid)), dim, base), persistent=False
        )

    def add(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        if n > self.table.shape[0]:
            self.table = sinusoidal_table(n, self.dim, self.base).to(tokens.device)
        return tokens + self.table[:n].to(tokens.dtype)


class Sinusoidal2dPE(PositionalEncoding):
    """Sinusoids per axis of a (gh, gw) patch grid: first half of the channels encode the row,
    second half the column (needs dim divisible by 4)."""

    def __init__(self, dim: int, grid: Sequence[int], heads: int = 1, base: float = 10000.0):
        super().__init__(dim, grid, heads)
        if dim % 4:
            raise ValueError(
                f"pe=sinusoidal_2d needs model.backbone.dim divisible by 4 (got {dim}); change dim."
            )
        gh, gw = (grid[0], 1) if len(grid) == 1 else grid
        rows = sinusoidal_table(gh, dim // 2, base)  # (gh, C/2)
        cols = sinusoidal_table(gw, dim // 2, base)  # (gw, C/2)
        table = torch.cat(
            [rows[:, None].expand(gh, gw, -1), cols[None].expand(gh, gw, -1)], dim=-1
        ).reshape(gh * gw, dim)
        self.register_buffer("table", table, persistent=False)

    def add(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.table[: tokens.shape[1]].to(tokens.dtype)


class LearnedPE(PositionalEncoding):
    """BERT-style: a learned (max_len, C) table, init N(0, 0.02); longer inputs are refused."""

    def __init__(self, dim: int, grid: Sequence[int] = (), heads: int = 1, max_len: int = 512):
        super().__init__(dim, grid, heads)
        n = math.prod(grid) if grid else 0
        if n > max_len:
            raise ValueError(
                f"pe.max_len={max_len} is shorter than the model's {n} tokens; "
                f"set pe.max_len>={n} (or use pe=sinusoidal, which has no limit)."
            )
        self.max_len = max_len
        self.table = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def add(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        if n > self.max_len:
            raise ValueError(
                f"pe.max_len={self.max_len} is shorter than {n} tokens; "
                f"set pe.max_len>={n} (or use pe=sinusoidal, which has no limit)."
            )
        return tokens + self.table[:n]


class NaivePE(PositionalEncoding):
    """The lecture's weak baseline: the scalar pos / (N-1) added to every channel.

    Its scale depends on the length: neighbours in a long input differ by less than distant
    tokens in a short one.
    """

    def add(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        pos = torch.arange(n, device=tokens.device, dtype=tokens.dtype) / max(1, n - 1)
        return tokens + pos[None, :, None]


class RotaryPE(PositionalEncoding):
    """RoPE: rotate each (2i, 2i+1) pair of q and k by pos * base^(-2i/d_head).

    Scores q_m . k_n then depend on m - n only. Tokens pass through unchanged.
    """

    def __init__(self, dim: int, grid: Sequence[int] = (), heads: int = 1, base: float = 10000.0):
        super().__init__(dim, grid, heads)
        if (dim // heads) % 2:
            raise ValueError(
                f"pe=rope needs an even head width, model.backbone.dim/heads = {dim // heads}; "
                "change dim or heads."
            )
        self.base = base

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rotate_one(q), self.rotate_one(k)

    def rotate_one(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, N, d) -> (B, H, N, d), d even."""
        n, d = x.shape[-2], x.shape[-1]
        inv_freq = self.base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
        angle = (
            torch.arange(n, device=x.device, dtype=torch.float32)[:, None] * inv_freq
        )  # (N, d/2)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        even, odd = x[..., 0::2], x[..., 1::2]
        return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)
