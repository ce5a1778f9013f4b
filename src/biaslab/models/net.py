"""Net = backbone -> pooling -> head, built from plain config dicts (`_target_` + kwargs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from hydra.utils import get_class, instantiate
from torch import nn

from biaslab.models.backbone import check_backbone, check_built
from biaslab.models.layouts import LAYOUTS, describe_takes, fits


class Net(nn.Module):
    """inputs -> backbone features (B, N, C) or (B, C, H, W) -> pooled (B, D) -> logits (B, K)."""

    def __init__(self, backbone: nn.Module, pool: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.pool, self.head = backbone, pool, head

    def forward_features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.backbone(inputs)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(features))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(inputs))


def example_input(input_shape: Sequence[int], vocab_size: int | None, batch: int = 2):
    """A zero batch of the data's shape: token ids (long) when there is a vocabulary."""
    if vocab_size:
        return torch.zeros(batch, *input_shape, dtype=torch.long)
    return torch.zeros(batch, *input_shape)


def build_net(
    backbone: dict[str, Any],
    pooling: dict[str, Any],
    head: dict[str, Any],
    num_classes: int,
    input_shape: Sequence[int],
    vocab_size: int | None = None,
) -> Net:
    """Instantiate the three parts; the head's width is read off a dry run on a zero batch.
    The backbone's contract and the pooling's fit are checked first, each in one sentence."""
    pool_cls, body_cls = get_class(pooling["_target_"]), get_class(backbone["_target_"])
    check_backbone(body_cls)
    if not fits(pool_cls, body_cls):
        raise ValueError(misfit(pooling["_target_"], pool_cls, body_cls))
    extra = {"class_token": True} if getattr(pool_cls, "uses_class_token", False) else {}
    body = instantiate(backbone, **extra)
    check_built(body)
    pool = instantiate(pooling, dim=body.num_features)
    was_training = body.training
    body.eval()
    with torch.no_grad():
        in_features = pool(body(example_input(input_shape, vocab_size))).shape[-1]
    body.train(was_training)
    return Net(body, pool, instantiate(head, in_features=in_features, num_classes=num_classes))


def misfit(target: str, pool_cls: type, body_cls: type) -> str:
    """One sentence: what the pooling takes, what the backbone emits, the options that fit it
    (read from the pooling config group, so a new pooling's file is offered too)."""
    from biaslab.models.registry import classes, option_of

    name = option_of("pooling", target, pool_cls.__name__)
    fitting = [o for o, cls in classes("pooling").items() if fits(cls, body_cls)]
    emits = body_cls.emits
    return (
        f"pooling={name} does not fit model.backbone {body_cls.__name__} (it takes "
        f"{describe_takes(pool_cls)}; the backbone emits {emits} {LAYOUTS[emits]}); "
        + (f"pick one of pooling={'|'.join(fitting)}." if fitting else "pick another pooling.")
    )
