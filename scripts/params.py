"""Per-layer and total parameters of any model config at any input shape, with no data loaded.

    python scripts/params.py model=vit data.input_shape=[3,32,32]
    python scripts/params.py model=fc pooling=flatten data.input_shape=[3,100,100]
    python scripts/params.py --lecture       # the lecture's dense-vs-conv arithmetic

Overrides are Hydra overrides of conf/train.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

CONF = Path(__file__).resolve().parents[1] / "conf"


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
    from biaslab.utils.validate import validate

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


def main(argv: list[str]) -> None:
    if "--lecture" in argv:
        print(f"{'layer':45s} {'weights':>15s} {'biases':>10s} {'total':>15s}")
        for name, w, b in lecture_rows():
            print(f"{name:45s} {w:>15,d} {b:>10,d} {w + b:>15,d}")
        return
    rows, shape = model_rows(argv)
    print(f"input_shape={shape}")
    print(f"{'module':40s} {'type':22s} {'weights':>12s} {'biases':>9s}")
    for name, kind, w, b in rows:
        print(f"{name:40s} {kind:22s} {w:>12,d} {b:>9,d}")
    total = sum(w + b for *_, w, b in rows)
    print(f"{'total':63s} {total:>22,d}")


if __name__ == "__main__":
    main(sys.argv[1:])
