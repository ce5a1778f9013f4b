"""OmegaConf resolvers used by the configs. Light: imported before Hydra parses the CLI."""

from __future__ import annotations

import netrc
import os
import uuid

from omegaconf import OmegaConf


def wandb_offline() -> bool:
    """Offline unless WANDB_MODE says otherwise or an API key is configured (env or netrc)."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode in ("offline", "dryrun", "disabled")
    if os.environ.get("WANDB_API_KEY"):
        return False
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is None
    except (OSError, netrc.NetrcParseError):
        return True


_UNIQUE = uuid.uuid4().hex[:6]


def unique() -> str:
    """A short id fixed for this process: two runs started in the same second get distinct dirs."""
    return _UNIQUE


def count_classes(root: str) -> int:
    """Class folders under root/train (or root); 0 when missing (validation then explains)."""
    from pathlib import Path

    base = Path(root) / "train" if (Path(root) / "train").is_dir() else Path(root)
    return sum(1 for p in base.iterdir() if p.is_dir()) if base.is_dir() else 0


def root_dir() -> str:
    """$BIASLAB_ROOT, else the directory the command was started from (jobs never chdir)."""
    return os.environ.get("BIASLAB_ROOT") or os.getcwd()


def scale(value: float, numerator: float, denominator: float) -> float:
    """value * numerator / denominator: the linear LR scaling rule, lr = base * batch / 32
    (`${biaslab.scale:0.05,${data.batch_size},32}`)."""
    return float(value) * float(numerator) / float(denominator)


def add(*values: int) -> int:
    """The sum of integers: `${biaslab.add:${data.feature_dim},${data.nodes}}`."""
    return sum(int(v) for v in values)


def register() -> None:
    resolvers = {
        "biaslab.wandb_offline": wandb_offline,
        "biaslab.unique": unique,
        "biaslab.count_classes": count_classes,
        "biaslab.root": root_dir,
        "biaslab.scale": scale,
        "biaslab.add": add,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=True)


register()
