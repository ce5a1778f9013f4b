"""Multi-head self-attention and the pre-norm transformer encoder shared by ViT and seq_attn.

b_i = sum_j softmax_j(q_i . k_j / sqrt(d) + mask_ij) v_j, per head, heads concatenated then
projected. Other scores (`score=`): additive (Bahdanau), gat (GAT's LeakyReLU of a sum) and mean
(all scores 0: the mean of what the mask lets through, the control without attention). Positions reach attention through two generic hooks only: an additive `attn_mask`
and a `rotate(q, k)` callable, both supplied by the encoder's `PositionalEncoding`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from biaslab.models.checks import check_rates, check_sizes
from biaslab.models.pe import PositionalEncoding


class MultiHeadSelfAttention(nn.Module):
    """(B, N, C) -> (B, N, C) with `heads` heads of width C / heads.

    The fused `qkv` weight is laid out as nn.MultiheadAttention's `in_proj_weight` ([q; k; v]).
    The fast path is F.scaled_dot_product_attention; while `on_weights` is set (see
    `Backbone.capture_attention`) the naive path runs (it has a double backward on every device)
    and hands each call's (B, H, N, N) weights to it.
    """

    SCORES = ("dot", "additive", "gat", "mean")

    def __init__(
        self, dim: int, heads: int, dropout: float = 0.0, bias: bool = True, score: str = "dot"
    ) -> None:
        super().__init__()
        check_sizes(dim=dim, heads=heads)
        check_rates(dropout=dropout)
        if score not in self.SCORES:
            raise ValueError(f"score={score!r}: choose one of {self.SCORES}.")
        if dim % heads:
            raise ValueError(
                f"dim={dim} is not divisible by heads={heads}; choose heads that divide dim."
            )
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.score = score
        # additive (Bahdanau) scores e_ij = w . tanh(q_i + k_j), per head: w is (H, d);
        # GAT's e_ij = LeakyReLU(a_q . q_i + a_k . k_j): its a = [a_q; a_k] is (2, H, d)
        self.additive_w = (
            nn.Parameter(torch.randn(heads, self.head_dim) / self.head_dim**0.5)
            if score == "additive"
            else None
        )
        self.gat_a = (
            nn.Parameter(torch.randn(2, heads, self.head_dim) / self.head_dim**0.5)
            if score == "gat"
            else None
        )
        self.on_weights: Callable[[torch.Tensor], None] | None = None

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        rotate: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
        | None = None,
        naive: bool = False,
    ) -> torch.Tensor:
        """x (B, N, C); attn_mask additive, broadcastable to (B, H, N, N); rotate(q, k)."""
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rotate is not None:
            q, k = rotate(q, k)
        p = self.dropout if self.training else 0.0
        if self.score == "dot" and not naive and self.on_weights is None:  # the fused kernel
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        else:
            out, weights = attend(self.scores(q, k), v, p, attn_mask)
            if self.on_weights is not None:
                self.on_weights(weights.detach())
        return self.proj(out.transpose(1, 2).reshape(B, N, C))

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """(B, H, N, d) each -> unmasked scores (B, H, N, N) of this module's kind."""
        if self.score == "additive":
            return additive_scores(q, k, self.additive_w)
        if self.score in ("gat", "mean"):
            return fixed_form_scores(q, k, self.gat_a)
        return dot_scores(q, k)


def maybe_add_mask(scores: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
    """scores (B, H, N, N) + an additive mask broadcastable to them, when there is one."""
    return scores if attn_mask is None else scores + attn_mask


def attend(
    scores: torch.Tensor,
    v: torch.Tensor,
    dropout: float = 0.0,
    attn_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The one tail every score kind shares: mask -> softmax -> dropout -> weighted sum.
    scores (B, H, N, N), v (B, H, N, d) -> output (B, H, N, d) and weights (B, H, N, N), rows
    summing to 1."""
    weights = maybe_add_mask(scores, attn_mask).softmax(dim=-1)
    return F.dropout(weights, dropout) @ v, weights


def dot_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Scaled dot products q_i . k_j / sqrt(d): (B, H, N, d) each -> (B, H, N, N)."""
    return q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5


def additive_scores(q: torch.Tensor, k: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Bahdanau's e_ij = w_h . tanh(q_i + k_j) (q, k already projected): (B, H, N, d) each,
    w (H, d) -> (B, H, N, N). Memory O(B H N^2 d): for small N."""
    return torch.einsum("bhijd,hd->bhij", torch.tanh(q.unsqueeze(3) + k.unsqueeze(2)), w)


def fixed_form_scores(
    q: torch.Tensor, k: torch.Tensor, a: torch.Tensor | None = None
) -> torch.Tensor:
    """GAT's e_ij = LeakyReLU_0.2(a_q . q_i + a_k . k_j) (Velickovic et al. 2018) with `a`
    (2, H, d); with `a=None` every score is 0, so each query averages the values its mask lets
    through (mean aggregation, GCN's random-walk form). (B, H, N, d) each -> (B, H, N, N)."""
    B, H, N, _ = q.shape
    if a is None:
        return q.new_zeros(B, H, N, N)
    source = torch.einsum("bhid,hd->bhi", q, a[0])
    target = torch.einsum("bhjd,hd->bhj", k, a[1])
    return F.leaky_relu(source.unsqueeze(-1) + target.unsqueeze(-2), 0.2)


def naive_attention(q, k, v, dropout: float = 0.0, attn_mask=None):
    """Dot-product attention without the fused kernel: (B, H, N, d) each -> output and weights."""
    return attend(dot_scores(q, k), v, dropout, attn_mask)


def additive_attention(q, k, v, w, dropout: float = 0.0, attn_mask=None):
    """Additive attention: (B, H, N, d) each, w (H, d) -> output and weights (B, H, N, N)."""
    return attend(additive_scores(q, k, w), v, dropout, attn_mask)


def fixed_form_attention(q, k, v, a=None, dropout: float = 0.0, attn_mask=None):
    """GAT (or, with `a=None`, mean) attention: (B, H, N, d) each -> output and weights."""
    return attend(fixed_form_scores(q, k, a), v, dropout, attn_mask)


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
    """Transformer block, (B, N, C) -> (B, N, C). Pre-norm (`norm_first=True`, the default):
    x + attn(LN(x)), then x + MLP(LN(x)). Post-norm (the original Transformer's, known to need
    warm-up): LN(x + attn(x)), then LN(x + MLP(x)) — the norm after the residual sum."""

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        norm_first: bool = True,
        score: str = "dot",
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, dropout, score=score)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            _dropout(dropout),
            nn.Linear(hidden, dim),
            _dropout(dropout),
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, rotate=None
    ) -> torch.Tensor:
        if not self.norm_first:
            x = self.norm1(x + self.drop_path(self.attn(x, attn_mask, rotate)))
            return self.norm2(x + self.drop_path(self.mlp(x)))
        x = x + self.drop_path(self.attn(self.norm1(x), attn_mask, rotate))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Encoder(nn.Module):
    """Tokens (B, N, C) -> positions -> [class token] -> blocks -> LayerNorm -> (B, N[+1], C).

    The PE's three hooks are applied here: `add` to the tokens, `rotate` and `attn_bias` (padded
    with zeros for the class token, which has no position) handed to every block.
    """

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
        norm_first: bool = True,
        score: str = "dot",
    ) -> None:
        super().__init__()
        check_sizes(dim=dim, depth=depth, heads=heads)
        check_rates(dropout=dropout, drop_path=drop_path)
        if mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio={mlp_ratio} must be > 0; pass mlp_ratio=2.0.")
        if dim % heads:
            raise ValueError(
                f"dim={dim} is not divisible by heads={heads}; choose heads that divide dim."
            )
        self.pe: PositionalEncoding = (pe or PositionalEncoding)(
            dim=dim, grid=tuple(grid), heads=heads
        )
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if class_token else None
        rates = torch.linspace(0, drop_path, depth).tolist() if depth > 1 else [drop_path]
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, dropout, r, norm_first, score) for r in rates[:depth]
        )
        # pre-norm needs a last LayerNorm; post-norm blocks already end with one
        self.norm = nn.LayerNorm(dim) if norm_first else nn.Identity()

    def forward(self, tokens: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, N, C); `attn_mask`: an extra additive mask broadcastable to (B, H, N, N),
        e.g. a graph's adjacency (0 on edges, -inf elsewhere), summed with the PE's bias."""
        tokens = self.pe.add(tokens)
        bias = self.pe.attn_bias(tokens.shape[1], tokens.device)
        if attn_mask is not None:
            bias = attn_mask if bias is None else bias + attn_mask
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
            if bias is not None:
                bias = F.pad(bias, (1, 0, 1, 0))
        if bias is not None:
            bias = bias.to(tokens.dtype)
        for block in self.blocks:
            tokens = block(tokens, bias, self.pe.rotate)
        return self.norm(tokens)
