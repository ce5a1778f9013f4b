"""The backbone contract: what the rest of the lab may ask of a backbone, and nothing else.

Probes, the Hessian probe, the report and validation read only these members:
- `num_features`: the feature width C the pooling and head receive;
- `token_grid`: the grid of positions of its tokens ((N,) or (gh, gw)), or None without tokens;
- `poolings`: names of the poolings (`pooling=<name>`, each pool's `name`) that fit its output;
- `modalities`: the kinds of data it takes (image, sequence, graph, tabular: each DataModule's
  `modality`), checked before anything is built (class level);
- `uses_pe`: whether a `pe=` option changes it (class level: readable before building);
- `embed(inputs)` / `encode(tokens)`: for token models, forward = encode(embed(inputs)), so a
  probe can permute tokens in between (`permutable` says whether this split exists);
- `capture_attention()`: a context manager that records every attention layer's weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def require_image(input_shape, family: str) -> tuple[int, int, int]:
    """(C, H, W) from data.input_shape, or one sentence saying this family needs images."""
    if len(input_shape) != 3:
        raise ValueError(
            f"model={family} needs images but data.input_shape={list(input_shape)} is a token "
            "sequence; use model=seq_attn, model=fc or model=rnn."
        )
    c, h, w = (int(s) for s in input_shape)
    return c, h, w


class Backbone(nn.Module):
    """Base of every backbone: inputs -> (B, N, C) tokens or a (B, C, H, W) feature map."""

    num_features: int
    token_grid: tuple[int, ...] | None = None
    poolings: tuple[str, ...] = ("mean", "max", "flatten")
    modalities: tuple[str, ...] = ("image",)
    uses_pe: bool = False
    permutable: bool = False

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no token embedding.")

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no token encoder.")

    @contextmanager
    def capture_attention(self) -> Iterator[list[torch.Tensor]]:
        """Inside the block, attention takes its naive path (exact, with a double backward) and
        each layer's (B, H, N, N) weights are appended, in call order, to the yielded list.
        State is restored on exit, also when the block raises. Empty for attention-free nets."""
        from biaslab.models.attention import MultiHeadSelfAttention

        layers = [m for m in self.modules() if isinstance(m, MultiHeadSelfAttention)]
        captured: list[torch.Tensor] = []
        before = [m.on_weights for m in layers]
        for m in layers:
            m.on_weights = captured.append
        try:
            yield captured
        finally:
            for m, hook in zip(layers, before, strict=True):
                m.on_weights = hook


class AttentionBackbone(Backbone):
    """Base of the transformer backbones (ViT, seq_attn): tokens from `embed`, then the shared
    `Encoder`; forward = encode(embed(inputs)). `build_encoder` takes the encoder's arguments
    from the subclass constructor's own (same names), so a new encoder option is one argument."""

    poolings = ("mean", "max", "flatten", "cls", "attn", "tokens")
    uses_pe = True
    permutable = True

    def build_encoder(self, grid, args: dict) -> None:
        """Build `self.encoder` for a token grid, from the constructor's `locals()`."""
        import inspect

        from biaslab.models.attention import Encoder

        names = set(inspect.signature(Encoder).parameters) - {"grid"}
        self.encoder = Encoder(grid=tuple(grid), **{k: v for k, v in args.items() if k in names})
        self.token_grid = tuple(grid)
        self.num_features = args["dim"]

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(tokens)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.embed(inputs))
