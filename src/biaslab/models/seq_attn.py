"""Sequence self-attention: any input read as a sequence of tokens -> transformer encoder.

Token ids (B, L) are embedded; images (B, C, H, W) are read as `rows` (H tokens of C*W),
`pixels` (H*W tokens of C) or `patches` (p x p patches flattened), so the same image
DataModules feed it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from biaslab.models.backbone import AttentionBackbone
from biaslab.models.checks import check_rates, check_sizes

TOKENS = ("rows", "pixels", "patches")


def image_to_tokens(images: torch.Tensor, tokens: str, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, F) as rows, pixels or flattened patches (row-major)."""
    if tokens == "rows":
        return images.permute(0, 2, 1, 3).flatten(2)  # (B, H, C*W)
    if tokens == "pixels":
        return images.flatten(2).transpose(1, 2)  # (B, H*W, C)
    return F.unfold(images, patch_size, stride=patch_size).transpose(1, 2)  # (B, N, C*p*p)


class TokenEmbed(nn.Module):
    """(B, L) ids -> nn.Embedding, or (B, C, H, W) images read as `tokens` -> nn.Linear; out
    (B, N, dim). `grid` is the token grid (for positional encodings)."""

    def __init__(
        self,
        input_shape: Sequence[int],
        vocab_size: int | None,
        tokens: str,
        patch_size: int,
        dim: int,
    ) -> None:
        super().__init__()
        if tokens not in TOKENS:
            raise ValueError(f"tokens={tokens!r}: choose one of {TOKENS}.")
        self.tokens, self.patch_size, self.is_ids = tokens, patch_size, bool(vocab_size)
        if vocab_size:
            self.proj: nn.Module = nn.Embedding(vocab_size, dim)
            self.grid: tuple[int, ...] = (int(input_shape[0]),)
        else:
            c, h, w = input_shape
            if tokens == "patches" and (h % patch_size or w % patch_size):
                raise ValueError(
                    f"patch_size={patch_size} does not divide the {h}x{w} images; "
                    f"pick a patch size that divides {math.gcd(h, w)}."
                )
            self.grid, features = {
                "rows": ((h,), c * w),
                "pixels": ((h, w), c),
                "patches": ((h // patch_size, w // patch_size), c * patch_size**2),
            }[tokens]
            self.proj = nn.Linear(features, dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.is_ids:
            return self.proj(inputs)
        return self.proj(image_to_tokens(inputs, self.tokens, self.patch_size))


class SeqAttn(AttentionBackbone):
    """(B, L) ids or (B, C, H, W) images -> (B, N, dim) (or (B, 1+N, dim) with a class token)."""

    modalities = ("sequence", "image")

    def __init__(
        self,
        input_shape: Sequence[int],
        vocab_size: int | None = None,
        tokens: str = "rows",
        patch_size: int = 2,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        pe: Callable[..., nn.Module] | None = None,
        class_token: bool = False,
        norm_first: bool = True,
        score: str = "dot",
    ) -> None:
        super().__init__()
        check_sizes(patch_size=patch_size, dim=dim, depth=depth, heads=heads)
        check_rates(dropout=dropout, drop_path=drop_path)
        self.token_embed = TokenEmbed(input_shape, vocab_size, tokens, patch_size, dim)
        self.build_encoder(self.token_embed.grid, locals())

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.token_embed(inputs)
