"""Multi-head self-attention and the pre-norm transformer encoder shared by ViT and seq_attn.

b_i = sum_j softmax_j(q_i . k_j / sqrt(d)) v_j, per head, heads concatenated then projected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    """(B, N, C) -> (B, N, C) with `heads` heads of width C / heads.

    The fused `qkv` weight is laid out as nn.MultiheadAttention's `in_proj_weight` ([q; k; v]).
    The fast path is F.scaled_dot_product_attention; with `store_weights = True` the naive path
    runs and keeps the (B, H, N, N) weights in `attn_weights` (for plots and probes).
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.backbone.dim={dim} is not divisible by heads={heads}.")
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.store_weights = False
        self.force_naive = False  # e.g. for double backward (Hessian probes): SDPA has none on CPU
        self.attn_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, rope: nn.Module | None = None, naive: bool = False):
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = rope.rotate(q), rope.rotate(k)
        p = self.dropout if self.training else 0.0
        if naive or self.store_weights or self.force_naive:
            out, weights = naive_attention(q, k, v, p)
            if self.store_weights:
                self.attn_weights = weights.detach()
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout: float = 0.0):
    """(B, H, N, d) each -> output (B, H, N, d) and weights (B, H, N, N), rows summing to 1."""
    weights = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(dim=-1)
    return F.dropout(weights, dropout) @ v, weights


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per example with probability p."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty(x.shape[0], *([1] * (x.dim() - 1))).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


def _dropout(p: float) -> nn.Module:
    """Dropout, or Identity at p = 0 (skips a no-op pass over the activations in training)."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)). (B, N, C) -> (B, N, C)."""

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, dropout)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            _dropout(dropout),
            nn.Linear(hidden, dim),
            _dropout(dropout),
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, rope: nn.Module | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), rope))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Encoder(nn.Module):
    """Tokens (B, N, C) -> positions -> [class token] -> blocks -> LayerNorm -> (B, N[+1], C)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        grid: Sequence[int],
        pe: Callable[..., nn.Module] | None = None,
        class_token: bool = False,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.pe = pe(dim=dim, grid=tuple(grid)) if pe is not None else None
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if class_token else None
        rates = torch.linspace(0, drop_path, depth).tolist() if depth > 1 else [drop_path]
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout, r) for r in rates[:depth])
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rope = None
        if self.pe is not None:
            rope = self.pe if self.pe.rotary else None
            tokens = self.pe(tokens)
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        for block in self.blocks:
            tokens = block(tokens, rope)
        return self.norm(tokens)
