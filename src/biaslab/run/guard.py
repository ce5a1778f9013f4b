"""The run directory decides, before Hydra writes anything into it (a Hydra callback).

Given an explicit `hydra.run.dir` that already holds a run, the new command must be that run's:
- a live run holds it: refused;
- it was made with other settings (the keys that define a run, beyond those that may change on
  resume: `trainer.max_epochs`/`max_steps` upward, devices, logging): refused, naming the first
  keys that differ, and its files stay byte-identical;
- it finished: reported as finished, nothing is re-run or rewritten (`resume=never` re-runs it);
- its folder cannot be created or written: refused.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.errors import ConfigError
from biaslab.run.checks import check_writable, exit_with_one_sentence
from biaslab.run.files import RunDir
from biaslab.run.paths import check_output_dirs, refuse_and_exit
from biaslab.run.resume import SAME_RUN_KEYS
from biaslab.utils.rank import rank

TRAINING_KEYS = (
    "accumulate_grad_batches",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "limit_train_batches",
    "limit_val_batches",
    "val_check_interval",
    "check_val_every_n_epoch",
    "precision",
    "deterministic",
)
GROWING_KEYS = ("max_epochs", "max_steps")  # may only grow on resume (-1: no limit)
IGNORED = ("data_dir",)  # the same files found elsewhere are the same data


def _drop_ignored(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_ignored(v) for k, v in node.items() if k not in IGNORED}
    if isinstance(node, list):
        return [_drop_ignored(v) for v in node]
    return node


def _flat(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}"))
        return out or {prefix: {}}
    return {prefix: node}


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The flattened settings that define a run."""
    trainer = config.get("trainer") or {}
    picked = {k: config.get(k) for k in SAME_RUN_KEYS}
    picked["trainer"] = {k: trainer.get(k) for k in TRAINING_KEYS}
    out: dict[str, Any] = {}
    for key, value in picked.items():
        out.update(_flat(_drop_ignored(value), key))
    return out


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`key: old -> new` for every defining setting that differs (growing keys may grow)."""
    a, b = identity(old), identity(new)
    changed = [
        f"{k}: {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]
    old_t, new_t = old.get("trainer") or {}, new.get("trainer") or {}
    for key in GROWING_KEYS:
        was, now = old_t.get(key), new_t.get(key)
        if was not in (None, -1) and now not in (None, -1) and now < was:
            changed.append(f"trainer.{key}: {was} -> {now} (it may only grow on resume)")
    return changed


def resolved(config: DictConfig, run_dir: Path) -> dict[str, Any]:
    """The new command's config, resolved as the job would see it (its output dir included)."""
    from hydra.core.hydra_config import HydraConfig

    cfg = copy.deepcopy(config)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    return {
        k: OmegaConf.to_container(cfg[k], resolve=True)
        if isinstance(cfg[k], DictConfig)
        else cfg[k]
        for k in plain
    }


def guard(config: DictConfig) -> None:
    run_dir = RunDir(Path(config.hydra.run.dir).absolute())
    parent = run_dir.path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(
            f"hydra.run.dir={run_dir.path} cannot be created: {parent} is a file; pass another "
            "hydra.run.dir."
        )
    if not run_dir.path.exists():
        check_writable(parent, "hydra.run.dir")
        return
    if run_dir.live:
        raise ConfigError(
            f"hydra.run.dir={run_dir.path} is in use by a live run; wait for it to end or pass "
            "another hydra.run.dir."
        )
    if not run_dir.config.exists() or config.get("resume", "auto") != "auto":
        return
    changed = differences(run_dir.read_config(), resolved(config, run_dir.path))
    if changed:
        raise ConfigError(
            f"hydra.run.dir={run_dir.path} holds a run made with other settings ("
            + "; ".join(changed[:3])
            + ("; ..." if len(changed) > 3 else "")
            + "); pass another hydra.run.dir, or that run's own settings to resume it."
        )
    old_epochs = (run_dir.read_config().get("trainer") or {}).get("max_epochs") or 0
    longer = (config.trainer.get("max_epochs") or 0) > old_epochs  # continue a finished run
    if run_dir.finished and not longer:
        metrics = run_dir.read_metrics()
        score = f" (test/acc {metrics['test/acc']:.4f})" if "test/acc" in metrics else ""
        print(
            f"hydra.run.dir={run_dir.path} holds a finished run{score}: nothing was re-run or "
            f"rewritten; its metrics are in {run_dir.metrics} (resume=never trains it again).",
            file=sys.stderr,
        )
        sys.exit(0)


class RunDirGuard(Callback):
    """Checks the names a run's or sweep's folder is built from (`biaslab.run.paths`), then runs
    `guard` on a single training run's explicit or default run dir, rank 0 only."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_paths(config)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_paths(config)
        if config.get("task_name") != "train" or not rank().is_zero:
            return
        exit_with_one_sentence(lambda: guard(config))


def _check_paths(config: DictConfig) -> None:
    try:
        check_output_dirs(config)
    except ConfigError as err:  # before Hydra creates any folder
        refuse_and_exit(err)
