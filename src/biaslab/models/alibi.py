"""ALiBi (Press et al., 2022): attention with linear biases, one class on the PE contract."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from biaslab.models.pe import PositionalEncoding


class ALiBiPE(PositionalEncoding):
    """No vectors are added to the tokens; head h adds -m_h * dist(i, j) to the score of query
    i on key j, with slopes m_h = 2^(-8 h / H), h = 1..H. dist is |i - j| on a sequence and the
    Euclidean distance between cells on a (gh, gw) grid. The bias is symmetric (an encoder sees
    both sides) and defined for any length, so it extrapolates. attn_bias(N) is (H, N, N)."""

    def __init__(
        self, dim: int, grid: Sequence[int] = (), heads: int = 1, max_exponent: float = 8.0
    ):
        super().__init__(dim, grid, heads)
        exponents = max_exponent * torch.arange(1, heads + 1, dtype=torch.float32) / heads
        self.register_buffer("slopes", 2.0**-exponents, persistent=False)  # (H,)

    def attn_bias(self, n: int, device: torch.device | None = None) -> torch.Tensor:
        if len(self.grid) == 2 and n == math.prod(self.grid):
            rows, cols = torch.meshgrid(
                torch.arange(self.grid[0], device=device),
                torch.arange(self.grid[1], device=device),
                indexing="ij",
            )
            cells = torch.stack([rows.flatten(), cols.flatten()], dim=-1).float()  # (N, 2)
            dist = torch.cdist(cells, cells)
        else:
            pos = torch.arange(n, device=device, dtype=torch.float32)
            dist = (pos[:, None] - pos[None, :]).abs()  # (N, N)
        return -self.slopes.to(device)[:, None, None] * dist  # (H, N, N)
