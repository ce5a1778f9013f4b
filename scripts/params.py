"""Per-layer and total parameters of any model config at any input shape, with no data loaded.

    python scripts/params.py model=vit data.input_shape=[3,32,32]
    python scripts/params.py model=fc pooling=flatten data.input_shape=[3,100,100]
    python scripts/params.py --lecture       # the lecture's dense-vs-conv arithmetic
    python scripts/params.py --match 100000 --key model.backbone.dim --multiple 8 model=vit
        # the width that puts a model within ±10 % of a parameter count (fair family comparisons)

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


def _option(argv: list[str], name: str, default: str | None = None) -> str | None:
    if name not in argv:
        return default
    i = argv.index(name)
    value = argv[i + 1]
    del argv[i : i + 2]
    return value


def main(argv: list[str]) -> None:
    target = _option(argv, "--match")
    if target is not None:
        key = _option(argv, "--key", "model.backbone.dim")
        multiple = int(_option(argv, "--multiple", "1"))
        width, params = match_width(argv, key, int(target), multiple)
        off = params / int(target) - 1
        print(f"{key}={width}  params={params:,d}  ({off:+.1%} of {int(target):,d})")
        if abs(off) > 0.10:
            sys.exit(f"no {key} within ±10 % of {int(target):,d} parameters; change another size.")
        return
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
