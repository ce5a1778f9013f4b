"""Checks before training, and how their errors reach the user.

Components check themselves (in their constructors, naming their arguments); `biaslab.run.build`
adds the config key. Here: what no component owns (the seed, the checkpoint file, the launcher,
a writable run dir, the tags), the value a sweeper optimises, and the one-sentence exit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from biaslab.errors import ConfigError
from biaslab.run.stored import (  # noqa: F401  (their old home: callers import them here too)
    check_callback_paths,
    check_data_fits,
    check_fits,
    load_checked_model,
    read_checkpoint,
    read_run_config,
)


def exit_with_one_sentence(run: Callable[[], Any]) -> Any:
    """Run `run()`; a ConfigError (or an override Hydra cannot parse or compose, as in a
    script's compose call) prints as one line on stderr and exits 2, with no traceback
    (HYDRA_FULL_ERROR=1 re-raises it, so Hydra shows the whole stack). In a multirun it is
    re-raised: Hydra marks that job failed, the sweep's summary records it, the others run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import ConfigCompositionException, OverrideParseException

    try:
        return run()
    except (ConfigError, ConfigCompositionException, OverrideParseException) as err:
        mode = HydraConfig.get().mode if HydraConfig.initialized() else None
        multirun = mode is not None and mode.name == "MULTIRUN"
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or multirun:
            raise
        print("Error: " + "; ".join(str(err).split("\n")), file=sys.stderr, flush=True)
        sys.exit(2)


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError with a one-sentence fix for what no component checks itself."""
    seed = cfg.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed={seed} is not an integer; pass seed=0 (or seed=null for random).")
    if seed is not None and not 0 <= seed < 2**32:
        raise ConfigError(f"seed={seed} is outside 0 to 2**32-1 (numpy's range); pass seed=0.")
    check_budget(cfg)
    if cfg.get("ckpt_path"):
        read_checkpoint(cfg.ckpt_path)
    if cfg.extras.get("enforce_tags") and not cfg.get("tags"):
        raise ConfigError("tags=[] is empty while extras.enforce_tags=true; pass tags=[my_tag].")
    threads = cfg.extras.get("threads")
    if threads is not None and threads != "all" and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(
            f"extras.threads={threads!r}: give a number of CPU threads >= 1, all, or null (the "
            "process's default)."
        )
    per_gpu = cfg.extras.get("jobs_per_gpu", 1)
    if not isinstance(per_gpu, int) or per_gpu < 1:
        raise ConfigError(f"extras.jobs_per_gpu={per_gpu!r} must be an integer >= 1; pass 1.")
    if cfg.extras.get("gpu_pool", "auto") not in ("auto", True, False):
        raise ConfigError(
            f"extras.gpu_pool={cfg.extras.get('gpu_pool')!r}: choose auto, true or false."
        )
    on_nonfinite = cfg.extras.get("on_nonfinite", "raise")
    if on_nonfinite not in ("raise", "stop"):
        raise ConfigError(f"extras.on_nonfinite={on_nonfinite!r}: choose raise or stop.")
    _check_launcher(cfg)


def check_budget(cfg: DictConfig) -> None:
    """Refuse settings under which nothing would be learned yet the run would end as finished:
    no epochs, no training batches, a learning rate of 0."""
    trainer = cfg.get("trainer") or {}
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if cfg.get("train") and epochs is not None and epochs != -1 and epochs < 1:
        raise ConfigError(f"trainer.max_epochs={epochs} trains nothing; pass at least 1.")
    if cfg.get("train") and steps is not None and steps != -1 and steps < 1:
        raise ConfigError(f"trainer.max_steps={steps} trains nothing; pass at least 1 (or -1).")
    limit = trainer.get("limit_train_batches")
    if cfg.get("train") and limit is not None and float(limit) <= 0:
        raise ConfigError(
            f"trainer.limit_train_batches={limit} trains on nothing; pass a fraction in (0, 1] "
            "or a number of batches >= 1."
        )
    for key in ("accumulate_grad_batches", "check_val_every_n_epoch"):
        value = trainer.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(
                f"trainer.{key}={value} must be an integer >= 1; pass trainer.{key}=1."
            )
    clip = trainer.get("gradient_clip_val")
    if clip is not None and clip < 0:
        raise ConfigError(f"trainer.gradient_clip_val={clip} must be >= 0 (or null for none).")
    _check_max_time(trainer.get("max_time"), bool(cfg.get("train")))
    lr = OmegaConf.select(cfg, "optimizer.lr", default=None)
    if cfg.get("train") and isinstance(lr, int | float) and not 0 < lr < float("inf"):
        raise ConfigError(f"optimizer.lr={lr} must be > 0 and finite; pass optimizer.lr=0.001.")


def _check_max_time(value: Any, train: bool) -> None:
    """`trainer.max_time` as Lightning reads a string, "DD:HH:MM:SS" (its own refusal names
    neither the key nor the form); a zero duration would end the run at once as finished."""
    if not isinstance(value, str):
        return
    parts = value.split(":")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(
            f"trainer.max_time={value} is not a duration; pass days:hours:minutes:seconds, "
            "such as trainer.max_time=00:12:00:00 (or null for no limit)."
        )
    if train and not any(int(p) for p in parts):
        raise ConfigError(f"trainer.max_time={value} trains nothing; pass a longer duration.")


def check_writable(folder: Path, key: str) -> None:
    """Create `folder` and write a probe file, or fail with one sentence naming the key."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write_probe.{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"{key}={folder} is not writable ({err.strerror}); point paths.log_dir (or {key}) "
            "at a writable folder with free space."
        ) from err


def optimized_value(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The value a sweeper optimises: `optimized_metric`, checked against what the run logged."""
    name = cfg.get("optimized_metric")
    if not name or name in metrics:
        return metrics.get(name) if name else None
    if "val/acc" not in metrics:  # nothing validated (train=false, or preempted early)
        return None
    raise ConfigError(
        f"optimized_metric={name} was not logged by this run; use one of "
        f"{', '.join(sorted(metrics))}."
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
    config), wrong inside a joblib or submitit-local worker, whose command line is not ours.
    First, the install extras the run's parts need (`check_extras`)."""
    check_extras(cfg)
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


# a logger's `_target_` -> (the modules any one of which it needs, the extra that brings them)
LOGGER_EXTRAS = {"TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard")}


def check_extras(cfg: DictConfig) -> None:
    """A logger whose package is not installed (Lightning's own refusal is a ModuleNotFoundError
    that names no extra) is one sentence naming the extra and its install command. Launchers
    and sweepers without their extra stop earlier, in Hydra: `biaslab.run.cli.missing_extra`."""
    import importlib.util

    from hydra.core.hydra_config import HydraConfig

    loggers = cfg.get("logger")
    nodes = loggers.values() if isinstance(loggers, DictConfig) else []
    targets = [str(n.get("_target_", "")) for n in nodes if isinstance(n, DictConfig)]
    for name, (modules, extra) in LOGGER_EXTRAS.items():
        if not any(t.endswith(name) for t in targets):
            continue
        if not any(importlib.util.find_spec(m) for m in modules):
            chosen = HydraConfig.initialized() and HydraConfig.get().runtime.choices.get("logger")
            raise ConfigError(
                f"logger={chosen or extra} needs the {extra} extra, which is not installed; "
                f"install it with pip install -c requirements.lock -e '.[{extra}]' (or pick "
                "logger=csv)."
            )
