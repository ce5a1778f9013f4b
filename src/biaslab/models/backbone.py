"""The backbone contract: what the rest of the lab may ask of a backbone, and nothing else.

Probes, the Hessian probe, the report and validation read only these members:
- `num_features`: the feature width C the pooling and head receive;
- `token_grid`: the grid of positions of its tokens ((N,) or (gh, gw)), or None without tokens;
- `emits`: the layout of its output (class level; `biaslab.models.layouts`): every pooling
  that takes that layout fits it, with no list of pooling names here;
- `modalities`: the kinds of data it takes (image, sequence, graph, tabular: each DataModule's
  `modality`), checked before anything is built (class level);
- `uses_pe`: whether a `pe=` option changes it (class level: readable before building);
- `embed(inputs)` / `encode(tokens)`: for token models, forward = encode(embed(inputs)), so a
  probe can permute tokens in between (`permutable` says whether this split exists);
- `capture_attention()`: a context manager that records every attention layer's weights.

`check_backbone` (class) and `check_built` (instance), called by `build_net`, refuse in one
sentence a backbone that breaks this contract by accident: an attribute named like a contract
member (`self.embed = nn.Conv2d(...)` would be shadowed by the method), a redefined
`capture_attention`, an `embed`/`encode` of another signature, a bad declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from biaslab.models.layouts import LAYOUTS

OWNED = ("capture_attention",)  # the base's: never redefined
HOOKS = ("embed", "encode", "forward")  # a subclass may define these, each taking one input
DECLARED = {"emits": str, "modalities": tuple, "uses_pe": bool, "permutable": bool}


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
    emits: str | None = None  # one of LAYOUTS: a subclass declares it
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

    emits = "tokens"
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


def _own(cls: type, name: str) -> object | None:
    """`name` as defined by `cls` or a class between it and `Backbone` (None: not redefined)."""
    for klass in cls.__mro__:
        if klass is Backbone or klass is AttentionBackbone:
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _inputs(fn: object) -> int | None:
    """The number of positional inputs a method takes besides self (None: not a function)."""
    import inspect

    if not inspect.isfunction(fn):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(inspect.signature(fn).parameters.values())[1:]
    return sum(p.kind in kinds and p.default is inspect.Parameter.empty for p in params)


def check_backbone(cls: type) -> None:
    """Refuse, in one sentence naming the member, a backbone class that breaks the contract."""
    name = cls.__name__
    if not (isinstance(cls, type) and issubclass(cls, Backbone)):
        raise ValueError(
            f"model.backbone {name} is not a biaslab.models.backbone.Backbone; subclass it "
            "(the probes, the poolings and the reports read a backbone through its contract)."
        )
    for member in OWNED:
        if _own(cls, member) is not None:
            raise ValueError(
                f"{name} defines {member}, which the Backbone contract owns (probes rely on "
                f"it); rename that method."
            )
    for member in HOOKS:
        fn = _own(cls, member)
        if fn is not None and _inputs(fn) != 1:
            raise ValueError(
                f"{name}.{member} must be a method taking one input ({member}(inputs)) as the "
                f"Backbone contract's {member} does; rename it or give it that signature."
            )
    for member, kind in DECLARED.items():
        value = getattr(cls, member, None)
        if not isinstance(value, kind) or (member == "emits" and value not in LAYOUTS):
            raise ValueError(
                f"{name}.{member}={value!r} breaks the Backbone contract; declare {member} "
                + (
                    "as one of " + "|".join(LAYOUTS)
                    if member == "emits"
                    else f"as a {kind.__name__}"
                )
                + " at class level."
            )
    if cls.permutable and (cls.embed is Backbone.embed or cls.encode is Backbone.encode):
        raise ValueError(
            f"{name} is permutable but does not define both embed and encode "
            "(forward = encode(embed(inputs))); define them or set permutable = False."
        )


def check_built(body: nn.Module) -> None:
    """Refuse, in one sentence, a built backbone whose attributes hide a contract member or
    that did not set its `num_features`."""
    name = type(body).__name__
    stored = {**vars(body), **body._modules, **body._parameters, **body._buffers}
    for member in (*OWNED, *HOOKS):
        if member in stored:
            raise ValueError(
                f"{name} sets self.{member}, but {member} is a method of the Backbone contract "
                f"(one hides the other); rename the attribute, such as self.{member}_layer."
            )
    for member in DECLARED:
        if member in stored:
            raise ValueError(
                f"{name} sets self.{member}, but {member} is a class-level declaration of the "
                "Backbone contract (read before the backbone is built); declare it on the class."
            )
    features = getattr(body, "num_features", None)
    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise ValueError(
            f"{name}.num_features={features!r}: set self.num_features in __init__ to the width "
            "C of the features the pooling and head receive."
        )
