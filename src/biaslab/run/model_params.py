"""A composed model config's layers and parameter count, with no data loaded, and the width
that matches a parameter count (fair family comparisons). Composing a config is the run layer's
work, so this lives here and `biaslab.models.params` only counts a built net's parameters."""

from __future__ import annotations

from pathlib import Path

from biaslab.models.params import per_layer

CONF = Path(__file__).resolve().parents[3] / "conf"


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
