"""Checks before training. Components check themselves (in their constructors); this module
only turns their errors into one sentence that names the config key and the fix.

- `validate(cfg)`: what no component owns: the seed, the checkpoint file, the launcher.
- `build_components(cfg)`: the DataModule and the LightningModule, each built once, then the net
  run on a tiny batch of every input shape the data will produce (so a PE too short for the
  test length fails now, not after training).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.errors import ConfigError

__all__ = ["ConfigError", "build_components", "record_unused", "validate"]


def exit_with_one_sentence(run: Callable[[], Any]) -> Any:
    """Run `run()`; a ConfigError prints as one line on stderr and exits 2, with no traceback
    (HYDRA_FULL_ERROR=1 re-raises it, so Hydra shows the whole stack). In a multirun it is
    re-raised: Hydra marks that job failed, the sweep's summary records it, the others run."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return run()
    except ConfigError as err:
        mode = HydraConfig.get().mode if HydraConfig.initialized() else None
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or (
            mode is not None and mode.name == "MULTIRUN"
        ):
            raise
        print(f"Error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)


def choice(cfg: DictConfig, group: str) -> str | None:
    """The option picked for a config group (`pooling=cls` -> 'cls'), from Hydra's record."""
    picked = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}")
    if picked is None:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            picked = HydraConfig.get().runtime.choices.get(group)
    return picked


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError with a one-sentence fix for what no component checks itself."""
    seed = cfg.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed={seed} is not an integer; pass seed=0 (or seed=null for random).")
    ckpt = cfg.get("ckpt_path")
    if ckpt and not Path(ckpt).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt} is not a file; pass the path of an existing .ckpt "
            "(or drop ckpt_path to start afresh)."
        )
    _check_launcher(cfg)


def optimized_value(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The value a sweeper optimises: `optimized_metric`, checked against what the run logged."""
    name = cfg.get("optimized_metric")
    if not name or name in metrics:
        return metrics.get(name) if name else None
    if "val/acc" not in metrics:  # nothing validated (train=false, or preempted early)
        return None
    if name not in metrics:
        raise ConfigError(
            f"optimized_metric={name} was not logged by this run; use one of "
            f"{', '.join(sorted(metrics))}."
        )
    return metrics[name]


def _node_key(cfg: DictConfig, target: str) -> str:
    """The config key whose node has `_target_: target` (data, model.backbone, pe, ...)."""
    for key in ("data", "model.backbone", "pe", "pooling", "head", "loss", "optimizer",
                "scheduler", "augment.batch", "augment.mix"):  # fmt: skip
        if OmegaConf.select(cfg, f"{key}._target_", default=None) == target:
            return key
    return target


@contextmanager
def explained(cfg: DictConfig) -> Iterator[None]:
    """Turn a component's constructor error into a ConfigError: its own sentence for a
    ValueError, the key and the fix for an unknown or missing config key."""
    from hydra.errors import InstantiationException

    try:
        yield
    except ConfigError:
        raise
    except InstantiationException as err:
        inner = err
        while isinstance(inner.__cause__, InstantiationException):
            inner = inner.__cause__
        cause = inner.__cause__
        if isinstance(cause, ConfigError):
            raise cause from err
        target = re.search(r"target '([^']+)'", str(inner))
        key = _node_key(cfg, target.group(1)) if target else "a config node"
        if isinstance(cause, TypeError):
            name = re.search(r"argument '(\w+)'", str(cause))
            if name and "unexpected" in str(cause):
                raise ConfigError(
                    f"{key}.{name.group(1)} is not an option of {target.group(1) if target else key}; "
                    "remove it or fix its spelling."
                ) from err
            raise ConfigError(f"{key}: {cause}; check that node's keys.") from err
        raise ConfigError(str(cause or err)) from err
    except ValueError as err:
        raise ConfigError(str(err)) from err


def record_unused(cfg: DictConfig) -> list[str]:
    """Groups the model does not use are recorded as null (the run's config, W&B and reports
    then never name a factor that had no effect). Today: `pe` for backbones without positions."""
    from hydra.utils import get_class

    backbone = get_class(cfg.model.backbone._target_)
    unused = []
    if not getattr(backbone, "uses_pe", False) and cfg.get("pe") is not None:
        unused.append("pe")
    with open_dict(cfg):
        for group in unused:
            cfg[group] = None
    return unused


def build_components(cfg: DictConfig) -> tuple[Any, Any]:
    """(datamodule, module), each built once from the config, and the net run on a tiny batch
    of every input shape the data produces. Errors come out as ConfigError."""
    import torch
    from hydra.utils import instantiate

    with explained(cfg):
        datamodule = instantiate(cfg.data)
        module = instantiate(cfg.module, _recursive_=False)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            for inputs in datamodule.example_inputs():
                per_token = module(inputs).dim() == 3
        module.train(was_training)
    if per_token != bool(getattr(datamodule, "labels_per_token", False)):
        raise ConfigError(
            "pooling=tokens gives a label per token but this data has one label per example; "
            "pick another pooling." if per_token else
            "this data labels every token (or node): set pooling=tokens."
        )  # fmt: skip
    with explained_optimizer(cfg):
        instantiate(cfg.optimizer)(params=module.parameters())
    return datamodule, module


OPTIMIZER_ARGS = {"learning rate": "lr", "weight_decay": "weight_decay", "momentum": "momentum",
                  "epsilon": "eps", "beta": "betas", "alpha": "alpha"}  # fmt: skip


@contextmanager
def explained_optimizer(cfg: DictConfig) -> Iterator[None]:
    """torch's optimizers check their arguments ("Invalid learning rate: -1"): name the key."""
    try:
        yield
    except (ValueError, TypeError) as err:
        cause = err.__cause__ or err
        arg = next((k for w, k in OPTIMIZER_ARGS.items() if w in str(cause)), None)
        if arg is None:
            raise ConfigError(f"optimizer: {cause}; fix the optimizer.* key it names.") from err
        value = OmegaConf.select(cfg, f"optimizer.{arg}")
        raise ConfigError(
            f"optimizer.{arg}={value} is refused by the optimizer ({cause}); "
            f"pass a valid optimizer.{arg} (a learning rate must be > 0)."
        ) from err


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
