"""The fully connected baseline the lecture starts from: flatten -> (Linear [+ BN] + act) x depth.

`depth` repeats `hidden[0]` that many times. `residual` adds an identity path around every layer whose width does not change,
x -> act(x + BN(Linear(x))): the same parameters, for the plain-vs-residual depth study (A.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.backbone import Backbone
from biaslab.models.checks import check_rates, check_sizes
from biaslab.models.cnn import ACTIVATIONS, Residual


class FC(Backbone):
    """(B, C, H, W) image, (B, L) token ids or (B, F) table rows -> (B, 1, hidden[-1]) features.

    Token ids are embedded first (`embed_dim` each), so the flattened vector keeps order.
    A fixed input size: longer test sequences are refused by the first linear layer.
    """

    emits = "vector"
    modalities = ("image", "sequence", "tabular")

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        vocab_size: int | None = None,
        embed_dim: int = 16,
        dropout: float = 0.0,
        residual: bool = False,
        batch_norm: bool = False,
        depth: int | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: choose one of {tuple(ACTIVATIONS)}.")
        if depth is not None:  # `depth` layers of width hidden[0]: the depth sweep's one knob
            if depth < 1 or not hidden:
                raise ValueError(f"depth={depth} needs >= 1 and a width in hidden.")
            hidden = [hidden[0]] * depth
        if not hidden:
            raise ValueError("hidden=[] has no layer; give at least one width.")
        check_sizes(embed_dim=embed_dim, **{f"hidden[{i}]": w for i, w in enumerate(hidden)})
        check_rates(dropout=dropout)
        self.token_embed = nn.Embedding(vocab_size, embed_dim) if vocab_size else None
        in_features = math.prod(input_shape) * (embed_dim if vocab_size else 1)
        layers: list[nn.Module] = []
        for width in hidden:
            body = nn.Sequential(
                nn.Linear(in_features, width, bias=not batch_norm),
                *([nn.BatchNorm1d(width)] if batch_norm else []),
            )
            if residual and width == in_features:
                layers += [Residual(body, ACTIVATIONS[activation]()), nn.Dropout(dropout)]
            else:
                layers += [*body, ACTIVATIONS[activation](), nn.Dropout(dropout)]
            in_features = width
        self.in_features = math.prod(input_shape)
        self.mlp = nn.Sequential(*layers)
        self.num_features = in_features

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs[0].numel() != self.in_features:
            raise ValueError(
                f"model=fc has a fixed input size of {self.in_features} but got inputs of shape "
                f"{list(inputs.shape[1:])} (data.test_length?); use model=seq_attn or model=rnn."
            )
        x = self.token_embed(inputs) if self.token_embed is not None else inputs
        return self.mlp(x.flatten(1)).unsqueeze(1)
