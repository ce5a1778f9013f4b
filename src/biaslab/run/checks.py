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


def exit_with_one_sentence(run: Callable[[], Any]) -> Any:
    """Run `run()`; a ConfigError prints as one line on stderr and exits 2, with no traceback
    (HYDRA_FULL_ERROR=1 re-raises it, so Hydra shows the whole stack). In a multirun it is
    re-raised: Hydra marks that job failed, the sweep's summary records it, the others run."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return run()
    except ConfigError as err:
        mode = HydraConfig.get().mode if HydraConfig.initialized() else None
        multirun = mode is not None and mode.name == "MULTIRUN"
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or multirun:
            raise
        print(f"Error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)


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
    if cfg.extras.get("enforce_tags") and not cfg.get("tags"):
        raise ConfigError("tags=[] is empty while extras.enforce_tags=true; pass tags=[my_tag].")
    on_nonfinite = cfg.extras.get("on_nonfinite", "raise")
    if on_nonfinite not in ("raise", "stop"):
        raise ConfigError(f"extras.on_nonfinite={on_nonfinite!r}: choose raise or stop.")
    _check_launcher(cfg)


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
