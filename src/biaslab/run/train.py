"""train(cfg): what src/train.py runs once Hydra has parsed, as a flat list of steps."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from biaslab.run.build import (
    build_callbacks,
    build_components,
    build_loggers,
    build_trainer,
    check_modality,
    record_unused,
)
from biaslab.run.checks import check_fits, check_writable, read_checkpoint, validate
from biaslab.run.files import RunDir, release_all
from biaslab.run.gpus import release, take_gpus
from biaslab.run.provenance import device_name, write_provenance
from biaslab.run.resume import finished_job, resume
from biaslab.run.slurm import check_tasks
from biaslab.run.sweep import JOB_CONFIG_ENV
from biaslab.utils.rank import rank, slurm_step

log = logging.getLogger("biaslab")

DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", JOB_CONFIG_ENV)


def global_rank() -> int:
    """This process's rank in the run (torchrun, a multi-task srun step, Lightning's launcher)."""
    return rank().global_rank


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint and the last weights. Returns every scalar metric."""
    from biaslab.utils.wandb_run import start_wandb_early

    env_before = {key: os.environ.get(key) for key in DDP_ENV}
    start_wandb_early(cfg)
    try:
        return _train(cfg)
    finally:
        end_job(env_before)


def set_threads(threads: int | str | None) -> None:
    """extras.threads: torch's CPU threads for this run (`all`: one per core; null: leave the
    process's default, e.g. OMP_NUM_THREADS). Recorded with the run, so step times say it."""
    import torch

    if threads is not None:
        torch.set_num_threads((os.cpu_count() or 1) if threads == "all" else int(threads))


def _train(cfg: DictConfig) -> dict[str, float]:
    job_start = time.perf_counter()
    validate(cfg)
    check_tasks(cfg.trainer.get("devices"), cfg.trainer.get("num_nodes"))  # in a SLURM job
    check_modality(cfg)
    finished = finished_job(cfg)
    if finished is not None:
        return finished
    take_gpus(cfg)  # under a local parallel launcher: this job's own GPU(s), before CUDA starts
    # every srun task composed its own config: each finds the run dir's checkpoint itself
    own = global_rank() == 0 or slurm_step()
    ckpt_path = resume(cfg) if own else cfg.get("ckpt_path")
    run_dir = RunDir(cfg.paths.output_dir)
    check_writable(run_dir.path, "paths.output_dir")
    if global_rank() == 0:
        run_dir.hold()  # released when this process ends, however it ends
        for path in run_dir.clean_litter():
            log.info("Removed %s, left by a killed run.", path)
    for group in record_unused(cfg):
        log.warning("%s has no effect on this model: recorded as %s: null.", group, group)
    import lightning as L

    from biaslab.run.evaluate import end_of_run, test_best_and_last, train_set_metrics
    from biaslab.run.fit import fit
    from biaslab.utils.checkpoint_io import AtomicCheckpointIO
    from biaslab.utils.console import print_final, quiet_console
    from biaslab.utils.wandb_record import record_in_wandb
    from biaslab.utils.wandb_run import log_hyperparams

    quiet_console()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    set_threads(cfg.extras.get("threads"))
    datamodule, model = build_components(cfg)
    if ckpt_path:  # resuming: the checkpoint must hold this model's weights
        check_fits(read_checkpoint(ckpt_path), model)
    save_config(cfg, run_dir)
    loggers = build_loggers(cfg, run_dir.path)
    callbacks = build_callbacks(cfg, run_dir, have_logger=bool(loggers))
    trainer: L.Trainer = build_trainer(cfg, callbacks, loggers, [AtomicCheckpointIO()])
    for logger in loggers:
        log_hyperparams(logger, OmegaConf.to_container(cfg, resolve=True))
    metrics = {"params/total": float(sum(p.numel() for p in model.parameters()))}
    if cfg.get("train"):
        stopped = fit(trainer, model, datamodule, ckpt_path, run_dir, metrics)
        if stopped:  # preempted (resume with the same command) or pruned (no test)
            return metrics
    if cfg.get("test"):
        if cfg.get("train") and trainer.is_global_zero:  # the final weights, before the best's
            metrics.update(train_set_metrics(model, datamodule))
        metrics.update(test_best_and_last(trainer, model, datamodule, bool(cfg.get("train"))))
        if trainer.is_global_zero:
            metrics.update(end_of_run(model, datamodule, run_dir))
    metrics["time/steps"] = float(trainer.global_step)
    metrics["time/total_s"] = time.perf_counter() - job_start
    if trainer.is_global_zero:
        run_dir.write_metrics(metrics)
        record_in_wandb(loggers, metrics, run_dir, getattr(datamodule, "class_names", None))
        print_final(metrics, run_dir.path, device_name(str(cfg.trainer.accelerator)))
    return metrics


def save_config(cfg: DictConfig, run_dir: RunDir) -> None:
    """Save the resolved config and provenance, and print the config tree.

    Rank 0 exports the resolved config's path so that DDP child ranks run exactly this config
    (see `biaslab.run.sweep.redirect_ddp_child`); each child records what it ran."""
    from biaslab.utils.config import print_config_tree, print_header

    if global_rank() > 0:
        OmegaConf.save(cfg, run_dir.rank_config(global_rank()), resolve=True)
        return
    OmegaConf.save(cfg, run_dir.config, resolve=True)
    os.environ[JOB_CONFIG_ENV] = str(run_dir.config)
    write_provenance(run_dir, Path(cfg.paths.root_dir), str(cfg.trainer.get("accelerator", "auto")))
    print_config_tree(cfg, save_to=run_dir.config_tree, show=bool(cfg.extras.get("print_config")))
    print_header(cfg, run_dir.path, device_name(str(cfg.trainer.get("accelerator", "auto"))))
    if cfg.extras.get("ignore_warnings"):
        import warnings

        warnings.filterwarnings("ignore")


def end_job(env_before: dict[str, str | None]) -> None:
    """Leave the process as the job found it, so the next job of a sweep starts clean: close
    W&B, release the run dir, tear down the DDP process group, restore the env vars
    Lightning's launcher set."""
    from biaslab.utils.wandb_run import finish_wandb, wait_for_wandb_start

    wait_for_wandb_start()
    finish_wandb()
    release_all()
    release()  # the job's GPUs go back to the pool
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    for key, value in env_before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
