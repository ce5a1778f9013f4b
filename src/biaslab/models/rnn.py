"""Recurrent baseline: an LSTM reads the tokens one position at a time (sequential by nature,
where self-attention sees all positions at once). (B, L) ids or images as rows -> (B, L, dim)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.backbone import Backbone
from biaslab.models.checks import check_rates, check_sizes
from biaslab.models.seq_attn import TokenEmbed


class RNN(Backbone):
    """Embedding (ids) or a linear map (image rows/pixels/patches) -> LSTM -> (B, N, dim)."""

    emits = "tokens"
    modalities = ("sequence", "image")  # images are read as rows, pixels or patches

    def __init__(
        self,
        input_shape: Sequence[int],
        vocab_size: int | None = None,
        tokens: str = "rows",
        patch_size: int = 2,
        dim: int = 64,
        depth: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_sizes(patch_size=patch_size, dim=dim, depth=depth)
        check_rates(dropout=dropout)
        self.token_embed = TokenEmbed(input_shape, vocab_size, tokens, patch_size, dim)
        hidden = dim // 2 if bidirectional else dim
        self.lstm = nn.LSTM(
            dim,
            hidden,
            num_layers=depth,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if depth > 1 else 0.0,
        )
        self.num_features = dim
        self.token_grid = self.token_embed.grid

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.lstm(self.token_embed(inputs))[0]
