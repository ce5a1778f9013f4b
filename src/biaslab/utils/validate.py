"""Config checks that run before any heavy import or data loading.

Each failure is one sentence that names the key(s) and the fix. `POOLING_BY_FAMILY` is the one
place that says which pooling each model family accepts.
"""

from __future__ import annotations

import math
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

POOLING_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "cnn": ("mean", "max", "flatten", "attn"),
    "fc": ("mean", "max", "flatten"),
    "vit": ("mean", "max", "flatten", "cls", "attn"),
    "seq_attn": ("mean", "max", "flatten", "cls", "attn"),
    "rnn": ("mean", "max", "flatten", "attn", "last"),
}

DOWNSAMPLE = ("maxpool", "avgpool", "stride", "none")  # biaslab.models.cnn.DOWNSAMPLE

KNOWN_METRICS = (
    "train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", "test/loss", "test/acc",
)  # fmt: skip


class ConfigError(ValueError):
    """An invalid configuration, caught before training; the message says how to fix it."""


def choice(cfg: DictConfig, group: str) -> str | None:
    """The option picked for a config group (`pooling=cls` -> 'cls'), from Hydra's record."""
    picked = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}")
    if picked is None:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            picked = HydraConfig.get().runtime.choices.get(group)
    return picked


def _pooling_name(cfg: DictConfig) -> str:
    picked = choice(cfg, "pooling")
    if picked:
        return picked
    target = cfg.pooling._target_.rsplit(".", 1)[-1]
    return target.removesuffix("Pool").lower()


def num_tokens(cfg: DictConfig) -> int | None:
    """How many positions an attention model sees (before any class token), from the config."""
    family, bb = cfg.model.family, cfg.model.backbone
    shape = list(cfg.data.input_shape)
    if OmegaConf.select(cfg, "data.vocab_size") or len(shape) == 1:
        return max(int(shape[0]), int(cfg.data.get("test_length") or 0))
    _c, h, w = shape
    if family == "vit":
        return (h // bb.patch_size) * (w // bb.patch_size)
    if family in ("seq_attn", "rnn"):
        tokens = bb.get("tokens", "rows")
        if tokens == "rows":
            return h
        if tokens == "pixels":
            return h * w
        return (h // bb.patch_size) * (w // bb.patch_size)
    return None


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError with a one-sentence fix for the first invalid combination found."""
    family = cfg.model.family
    pooling = _pooling_name(cfg)
    allowed = POOLING_BY_FAMILY.get(family)
    if allowed is not None and pooling not in allowed:
        raise ConfigError(
            f"pooling={pooling} does not fit model={choice(cfg, 'model') or family} "
            f"(family {family}); pick one of pooling={'|'.join(allowed)}."
        )
    if cfg.get("optimized_metric") and cfg.optimized_metric not in KNOWN_METRICS:
        raise ConfigError(
            f"optimized_metric={cfg.optimized_metric} is not a logged metric; "
            f"use one of {', '.join(KNOWN_METRICS)}."
        )
    downsample = cfg.model.backbone.get("downsample")
    if downsample is not None and downsample not in DOWNSAMPLE:
        raise ConfigError(
            f"model.backbone.downsample={downsample} is not an option; "
            f"use one of {'|'.join(DOWNSAMPLE)}."
        )
    _check_attention(cfg)
    _check_data(cfg)
    _check_launcher(cfg)


def _check_attention(cfg: DictConfig) -> None:
    family, bb = cfg.model.family, cfg.model.backbone
    shape = list(cfg.data.input_shape)
    patch = bb.get("patch_size")
    uses_patches = family == "vit" or (family == "seq_attn" and bb.get("tokens") == "patches")
    if uses_patches and len(shape) == 3:
        _, h, w = shape
        if h % patch or w % patch:
            raise ConfigError(
                f"model.backbone.patch_size={patch} does not divide the {h}x{w} images of "
                f"data={choice(cfg, 'data')}; pick a patch size that divides {math.gcd(h, w)}."
            )
    if family in ("vit", "seq_attn"):
        dim, heads = bb.dim, bb.heads
        if dim % heads:
            raise ConfigError(
                f"model.backbone.dim={dim} is not divisible by model.backbone.heads={heads}; "
                "choose heads that divide dim."
            )
        pe = choice(cfg, "pe") or cfg.pe._target_.rsplit(".", 1)[-1]
        target = cfg.pe._target_
        if target.endswith(("SinusoidalPE", "Sinusoidal2dPE")) and dim % (
            4 if "2d" in target else 2
        ):
            need = 4 if "2d" in target else 2
            raise ConfigError(
                f"pe={pe} needs model.backbone.dim divisible by {need} (got {dim}); "
                f"set an even dim or another pe."
            )
        if target.endswith("RotaryPE") and (dim // heads) % 2:
            raise ConfigError(
                f"pe=rope needs an even head width, model.backbone.dim/heads = {dim // heads}; "
                "change dim or heads."
            )
        n = num_tokens(cfg)
        max_len = cfg.pe.get("max_len")
        if max_len is not None and n is not None and n > max_len:
            raise ConfigError(
                f"pe.max_len={max_len} is shorter than the {n} tokens of model={choice(cfg, 'model') or family}; "
                f"set pe.max_len>={n} (or use pe=sinusoidal, which has no limit)."
            )


def _check_data(cfg: DictConfig) -> None:
    """Data folders exist (or will be downloaded); the model family fits the data's modality."""
    from biaslab.data.catalog import DATASETS

    data, family = cfg.data, cfg.model.family
    name = data.get("name")
    if name in DATASETS and not data.get("download", True):
        cls_name, folder = DATASETS[name]
        if not (Path(data.data_dir) / folder).is_dir():
            raise ConfigError(
                f"data.data_dir={data.data_dir} holds no {cls_name} files ({folder}/); "
                "set data.download=true or copy the data there."
            )
    root = data.get("root")
    if root is not None and not Path(root).is_dir():
        raise ConfigError(
            f"data.root={root} does not exist; point data.root at your image folder "
            "(train/ + val/ or one folder per class)."
        )
    is_sequence = len(data.input_shape) == 1
    if is_sequence and family in ("cnn", "vit"):
        raise ConfigError(
            f"model={choice(cfg, 'model') or family} needs images but data={choice(cfg, 'data')} "
            "holds token sequences; use model=seq_attn, model=fc or model=rnn."
        )
    test_length = data.get("test_length")
    if test_length and family == "fc":
        raise ConfigError(
            f"data.test_length={test_length} needs a length-agnostic model but model=fc has a "
            "fixed input size; use model=seq_attn or model=rnn."
        )
    sample = OmegaConf.select(cfg, "augment.sample")
    if sample is not None and root is None:
        raise ConfigError(
            f"augment={choice(cfg, 'augment')} works per sample on file-backed data; use "
            "data=imagefolder, or a batched augment (flip_crop, translate, rotate_scale)."
        )


def _launcher_target(cfg: DictConfig) -> str:
    target = OmegaConf.select(cfg, "hydra.launcher._target_")
    if target is None:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            target = OmegaConf.select(HydraConfig.get(), "launcher._target_")
    return target or ""


def _check_launcher(cfg: DictConfig) -> None:
    """DDP through Lightning's subprocess launcher re-runs the command line of the process that
    runs the job: right under the basic launcher (biaslab points child ranks at the job's
    config), wrong inside a joblib or submitit-local worker, whose command line is not ours."""
    strategy = str(cfg.trainer.get("strategy", "auto"))
    devices = cfg.trainer.get("devices", 1)
    multi = devices in (-1, "auto") or (isinstance(devices, int) and devices > 1)
    if not (strategy.startswith("ddp") and "spawn" not in strategy and multi):
        return
    target = _launcher_target(cfg)
    for name, key in (("joblib", "JoblibLauncher"), ("submitit_local", "LocalLauncher")):
        if key in target:
            raise ConfigError(
                f"trainer.strategy={strategy} with trainer.devices={devices} cannot run inside "
                f"hydra/launcher={name}; use hydra/launcher=basic, or hydra/launcher=slurm "
                "(one task per device)."
            )
