"""train(cfg) and evaluate(cfg): what src/train.py and src/eval.py run once Hydra has parsed."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.utils.config import print_config_tree
from biaslab.utils.instantiate import instantiate_callbacks, instantiate_loggers
from biaslab.utils.sweep import JOB_CONFIG_ENV, write_metrics, write_provenance
from biaslab.utils.validate import ConfigError, build_components, record_unused, validate
from biaslab.utils.wandb_run import (
    finish_wandb,
    log_hyperparams,
    start_wandb_early,
    wait_for_wandb_start,
)

log = logging.getLogger("biaslab")


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


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


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _prepare(cfg: DictConfig) -> Path:
    """Print and save the config and provenance; return the run's output dir.

    Rank 0 exports the resolved config's path so that DDP child ranks run exactly this config
    (see `biaslab.utils.sweep.redirect_ddp_child`); each child records what it ran.
    """
    if cfg.extras.get("enforce_tags") and not cfg.get("tags"):
        raise ConfigError("tags=[] is empty while extras.enforce_tags=true; pass tags=[my_tag].")
    output_dir = Path(cfg.paths.output_dir)
    check_writable(output_dir, "paths.output_dir")
    if local_rank() > 0:
        OmegaConf.save(cfg, output_dir / f"config_resolved_rank{local_rank()}.yaml", resolve=True)
        return output_dir
    OmegaConf.save(cfg, output_dir / "config_resolved.yaml", resolve=True)
    os.environ[JOB_CONFIG_ENV] = str(output_dir / "config_resolved.yaml")
    write_provenance(output_dir, Path(cfg.paths.root_dir))
    if cfg.extras.get("print_config"):
        print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    if cfg.extras.get("ignore_warnings"):
        import warnings

        warnings.filterwarnings("ignore")
    return output_dir


DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", JOB_CONFIG_ENV)


def end_job(env_before: dict[str, str | None]) -> None:
    """Leave the process as the job found it, so the next job of a sweep starts clean: close
    W&B, tear down the DDP process group, restore the env vars Lightning's launcher set."""
    from biaslab.utils.resume import release_all

    wait_for_wandb_start()
    finish_wandb()
    release_all()
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    for key, value in env_before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint. Returns every logged scalar metric."""
    env_before = {key: os.environ.get(key) for key in DDP_ENV}
    start_wandb_early(cfg)
    try:
        return _train(cfg)
    finally:
        end_job(env_before)


def _resume(cfg: DictConfig) -> Path | None:
    """Apply `resume=auto`: maybe adopt an earlier run dir; return the checkpoint to resume."""
    if cfg.get("ckpt_path") or not cfg.get("train") or cfg.get("resume", "auto") != "auto":
        return cfg.get("ckpt_path")
    from hydra.core.hydra_config import HydraConfig

    from biaslab.utils.resume import find_resume

    hc = HydraConfig.get() if HydraConfig.initialized() else None
    multirun = hc is not None and hc.mode is not None and hc.mode.name == "MULTIRUN"
    overrides = list(hc.overrides.task) if hc is not None else None
    explicit = hc is not None and any(o.startswith("hydra.run.dir=") for o in hc.overrides.hydra)
    here = Path(cfg.paths.output_dir)
    run_dir, ckpt = find_resume(here, overrides, multirun, explicit)
    if run_dir != here:
        here.mkdir(parents=True, exist_ok=True)
        (here / "resumed_in.txt").write_text(f"{run_dir}\n")
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
    if ckpt is not None:
        log.info("Resuming from %s (resume=auto; resume=never starts afresh).", ckpt)
        with open_dict(cfg):  # in the resolved config, so DDP child ranks restore it too
            cfg.ckpt_path = str(ckpt)
    return ckpt


def _saved_epoch(path: str) -> int | None:
    """The epoch a checkpoint was saved at (its own record, not its file name)."""
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except (OSError, KeyError, RuntimeError):
        return None


SAME_RUN_KEYS = ("seed", "data", "model", "module", "optimizer", "scheduler", "loss", "augment",
                 "probes")  # fmt: skip


def _finished_job(cfg: DictConfig) -> dict[str, float] | None:
    """A sweep started again with the same command (same sweep dir): a job whose dir already
    holds its final metrics is not run again (`resume=never` reruns it)."""
    from hydra.core.hydra_config import HydraConfig

    if cfg.get("resume", "auto") != "auto" or not HydraConfig.initialized():
        return None
    mode = HydraConfig.get().mode
    done = Path(cfg.paths.output_dir) / "metrics.json"
    if mode is None or mode.name != "MULTIRUN" or not done.exists():
        return None
    saved = done.parent / "config_resolved.yaml"
    if saved.exists():  # the same job number of a changed grid is another run: never mix them
        old = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
        new = OmegaConf.to_container(cfg, resolve=True)
        changed = sorted(k for k in SAME_RUN_KEYS if old.get(k) != new.get(k))
        if changed:
            raise ConfigError(
                f"{done.parent} holds a finished run with other settings ({', '.join(changed)} "
                "differ: the sweep's grid changed since); pass another hydra.sweep.dir."
            )
    log.info("Job already finished in %s: skipped (resume=never runs it again).", done.parent)
    return json.loads(done.read_text())


def _train(cfg: DictConfig) -> dict[str, float]:
    job_start = time.perf_counter()
    validate(cfg)
    finished = _finished_job(cfg)
    if finished is not None:
        return finished
    ckpt_path = _resume(cfg) if local_rank() == 0 else cfg.get("ckpt_path")
    if local_rank() == 0:
        from biaslab.utils.resume import hold

        check_writable(Path(cfg.paths.output_dir), "paths.output_dir")
        hold(Path(cfg.paths.output_dir))  # released when this process ends, however it ends
    for group in record_unused(cfg):
        log.warning("%s has no effect on this model: recorded as %s: null.", group, group)
    import lightning as L
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from biaslab.callbacks.distributed import ReleaseProcessGroup
    from biaslab.callbacks.evidence import EpochHistory, end_of_run
    from biaslab.callbacks.reliability import PREEMPTED_MARKER, FiniteLossGuard, Preemption
    from biaslab.utils.checkpoint_io import AtomicCheckpointIO

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule, model = build_components(cfg)
    output_dir = _prepare(cfg)
    loggers = instantiate_loggers(cfg, output_dir)
    callbacks = instantiate_callbacks(cfg, have_logger=bool(loggers))
    if cfg.get("pruning"):  # a trial of hparams_search=optuna: report each epoch, maybe stop
        from biaslab.callbacks.pruning import OptunaPruning

        callbacks.append(OptunaPruning(**cfg.pruning, monitor=cfg.get("optimized_metric") or "val/acc",
                                       output_dir=str(output_dir)))  # fmt: skip
    every = cfg.extras.get("nan_check_every_n_steps")
    on_nonfinite = cfg.extras.get("on_nonfinite", "raise")
    if on_nonfinite not in ("raise", "stop"):
        raise ConfigError(f"extras.on_nonfinite={on_nonfinite!r}: choose raise or stop.")
    callbacks += [FiniteLossGuard(every, stop=on_nonfinite == "stop"), Preemption(str(output_dir / "checkpoints")),
                  EpochHistory(str(output_dir)), ReleaseProcessGroup()]  # fmt: skip
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    for logger in loggers:
        log_hyperparams(logger, OmegaConf.to_container(cfg, resolve=True))
    metrics: dict[str, float] = {}
    preempted = output_dir / PREEMPTED_MARKER
    preempted.unlink(missing_ok=True)
    metrics["params/total"] = float(sum(p.numel() for p in model.parameters()))
    if cfg.get("train"):
        start = time.perf_counter()
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        except SIGTERMException:  # raised by Lightning when SIGTERM came outside a train batch
            if not preempted.exists():
                raise
        fit_s = time.perf_counter() - start
        metrics.update(_scalars(trainer.callback_metrics))
        seen = trainer.global_step * int(cfg.data.get("batch_size", 0) or 0)
        metrics.update({"time/fit_s": fit_s, "time/samples_per_s": seen / fit_s if fit_s else 0.0,
                        "time/epochs": float(trainer.current_epoch)})  # fmt: skip
        if preempted.exists():
            log.warning("Preempted: %s", preempted.read_text().strip())
            return metrics
        pruned = output_dir / "pruned.txt"
        if pruned.exists():  # stopped by the study's pruner: no test, the sweeper tells PRUNED
            log.info("Optuna trial %s", pruned.read_text().strip())
            if trainer.is_global_zero:
                write_metrics(output_dir, {**metrics, "pruned": 1.0})
            return metrics
    if cfg.get("test"):
        callback = trainer.checkpoint_callback
        best = callback.best_model_path if callback is not None else ""
        same = bool(best) and _saved_epoch(best) == trainer.current_epoch - 1  # best = last epoch
        if cfg.get("train") and not same:  # the last weights, before the best checkpoint is loaded
            trainer.test(model, datamodule=datamodule, verbose=False)
            last = _scalars(trainer.callback_metrics)
            metrics.update(
                {f"test_last/{k[5:]}": v for k, v in last.items() if k.startswith("test/")}
            )
        if not best:
            log.warning("No best checkpoint: testing the current weights.")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update(_scalars(trainer.callback_metrics))
        if cfg.get("train") and same:  # one test serves both
            tested = {k[5:]: v for k, v in metrics.items() if k.startswith("test/")}
            metrics.update({f"test_last/{k}": v for k, v in tested.items()})
        if trainer.is_global_zero:
            metrics.update(end_of_run(model, datamodule, output_dir))
    metrics["time/steps"] = float(trainer.global_step)
    metrics["time/total_s"] = time.perf_counter() - job_start
    if trainer.is_global_zero:
        write_metrics(output_dir, metrics)
        log.info("Metrics: %s", {k: round(v, 4) for k, v in sorted(metrics.items())})
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint at cfg.ckpt_path; the model is rebuilt from its own hparams."""
    output_dir = _prepare_eval(cfg)
    import lightning as L

    from biaslab.module import Classifier

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    model = Classifier.load_from_checkpoint(cfg.ckpt_path, map_location="cpu")
    datamodule = instantiate(cfg.data)
    loggers = instantiate_loggers(cfg, output_dir)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    try:
        trainer.test(model, datamodule=datamodule)
    finally:
        finish_wandb()
    return _scalars(trainer.callback_metrics)


def _prepare_eval(cfg: DictConfig) -> Path:
    if not Path(cfg.ckpt_path).is_file():
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} is not a file; pass ckpt_path=/path/to/x.ckpt."
        )
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if cfg.extras.get("print_config"):
        print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    return output_dir
