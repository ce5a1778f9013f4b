"""Per-layer and total parameters of any model config at any input shape, with no data loaded
(`scripts/params.py` is its command line): the lecture's dense-vs-conv arithmetic, a model
config's layers, and the width that matches a parameter count (fair family comparisons)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

CONF = Path(__file__).resolve().parents[3] / "conf"


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


def model_rows(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import biaslab.utils.resolvers  # noqa: F401
    from biaslab.models.net import build_net
    from biaslab.run.checks import validate

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)
    validate(cfg)
    m = OmegaConf.to_container(cfg.module, resolve=True)
    net = build_net(
        m["backbone"], m["pooling"], m["head"], m["num_classes"], m["input_shape"], m["vocab_size"]
    )
    return per_layer(net), m["input_shape"]


def total_params(overrides: list[str]) -> int:
    rows, _ = model_rows(overrides)
    return sum(w + b for *_, w, b in rows)


def match_width(
    overrides: list[str], key: str, target: int, multiple: int = 1, lo: int = 1, hi: int = 4096
) -> tuple[int, int]:
    """(width, params): the multiple of `multiple` for `key` whose model is nearest `target`
    parameters (counts grow with the width, so a bisection finds the crossing)."""
    lo, hi = max(1, lo // multiple), hi // multiple
    while lo < hi:
        mid = (lo + hi) // 2
        if total_params([*overrides, f"{key}={mid * multiple}"]) < target:
            lo = mid + 1
        else:
            hi = mid
    best = min(
        (w for w in (lo - 1, lo) if w >= 1),
        key=lambda w: abs(total_params([*overrides, f"{key}={w * multiple}"]) - target),
    )
    return best * multiple, total_params([*overrides, f"{key}={best * multiple}"])
