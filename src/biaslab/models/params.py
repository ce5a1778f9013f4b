"""Per-layer and total parameters of any model config at any input shape, with no data loaded
(`scripts/params.py` is its command line): the lecture's dense-vs-conv arithmetic, a model
config's layers (`biaslab.run.model_params` composes the config and finds the width that
matches a parameter count: composing is the run layer's work, not a model's)."""

from __future__ import annotations

import torch
from torch import nn


def count(module: nn.Module) -> tuple[int, int]:
    """(weights, biases) of one layer's own parameters."""
    weights = sum(p.numel() for n, p in module.named_parameters(recurse=False) if n != "bias")
    biases = sum(p.numel() for n, p in module.named_parameters(recurse=False) if n == "bias")
    return weights, biases


def per_layer(net: nn.Module) -> list[tuple[str, str, int, int]]:
    """(name, type, weights, biases) for each module that owns parameters."""
    rows = []
    for name, module in net.named_modules():
        weights, biases = count(module)
        if weights or biases:
            rows.append((name or "(root)", type(module).__name__, weights, biases))
    return rows


def lecture_rows() -> list[tuple[str, int, int]]:
    """The lecture's example: a flattened 100x100x3 image into dense and conv layers.

    Built on the meta device, so 900M weights cost no memory.
    """
    image = 100 * 100 * 3
    with torch.device("meta"):
        layers = {
            "dense 30,000 -> 1,000 units": nn.Linear(image, 1000),
            "dense 30,000 -> 30,000 units (100x100x3)": nn.Linear(image, image),
            "conv 3x3, 3 -> 3 channels (100x100x3 out)": nn.Conv2d(3, 3, 3, padding=1),
            "conv 3x3, 3 -> 1,000 channels": nn.Conv2d(3, 1000, 3, padding=1),
        }
    return [(name, *count(layer)) for name, layer in layers.items()]
