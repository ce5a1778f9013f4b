"""Recurrent baseline: an LSTM reads the tokens one position at a time (sequential by nature,
where self-attention sees all positions at once). (B, L) ids or images as rows -> (B, L, dim)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.seq_attn import image_to_tokens


class RNN(nn.Module):
    """Embedding (ids) or a linear map (image rows/pixels/patches) -> LSTM -> (B, N, dim)."""

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
        self.tokens, self.patch_size, self.is_ids = tokens, patch_size, bool(vocab_size)
        if vocab_size:
            self.embed_in: nn.Module = nn.Embedding(vocab_size, dim)
        else:
            c, _, w = input_shape
            features = {"rows": c * w, "pixels": c, "patches": c * patch_size**2}[tokens]
            self.embed_in = nn.Linear(features, dim)
        hidden = dim // 2 if bidirectional else dim
        self.lstm = nn.LSTM(dim, hidden, num_layers=depth, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout if depth > 1 else 0.0)  # fmt: skip
        self.num_features = dim

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.embed_in(
            inputs if self.is_ids else image_to_tokens(inputs, self.tokens, self.patch_size)
        )
        return self.lstm(x)[0]
