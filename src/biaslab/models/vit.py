"""Vision Transformer: conv patch embedding -> transformer encoder. (B, C, H, W) -> (B, N, D)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from biaslab.models.backbone import AttentionBackbone, require_image
from biaslab.models.checks import check_rates, check_sizes


class ViT(AttentionBackbone):
    """Patches of `patch_size` become N = (H/p)(W/p) tokens of width `dim`.

    Output (B, N, dim), or (B, 1+N, dim) with `class_token` (set by pooling=cls).
    """

    modalities = ("image",)

    def __init__(
        self,
        input_shape: Sequence[int],
        patch_size: int = 2,
        dim: int = 64,
        depth: int = 4,
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
        c, h, w = require_image(input_shape, "vit")
        if h % patch_size or w % patch_size:
            raise ValueError(
                f"patch_size={patch_size} does not divide the {h}x{w} images; "
                f"pick a patch size that divides {math.gcd(h, w)}."
            )
        self.patch_embed = nn.Conv2d(c, dim, patch_size, stride=patch_size)
        self.build_encoder((h // patch_size, w // patch_size), locals())

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, dim) patch tokens, row-major over the patch grid."""
        return self.patch_embed(images).flatten(2).transpose(1, 2)
