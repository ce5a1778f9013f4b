"""A run's housekeeping in one place, around the ML steps of `biaslab.run.train.train`.

`housekeeping(steps)` wraps a function `steps(cfg, run) -> metrics` (the model is
lightning-hydra-template's `task_wrapper`). The order is part of the behaviour; each step says
why it stands where it does:

Before the ML steps (`_before`):
 1. note the DDP env vars (Lightning's launcher sets them; the next job of a sweep must not see
    them), and start W&B in the background: its service takes seconds, the checks below do not;
 2. refuse bad input (`validate`, the SLURM task count, the data's modality against the
    backbone's), before anything is written;
 3. a sweep job whose run dir already holds its metrics returns them: not run again;
 4. take this job's GPU(s) from a local parallel sweep's pool, before CUDA starts;
 5. resume: the checkpoint to continue from, maybe in an earlier run dir (`resume=auto`); rank 0
    (and every task of a multi-task srun step, which composed its own config) finds it itself;
 6. the run dir must be writable; rank 0 holds its lock (released when the process ends,
    however it ends) and only then removes what a killed run left (litter);
 7. groups the model does not use are recorded as null, said once;
 8. the console quieted, the seed and torch's CPU threads set.
Between the ML steps, through `Run`:
 9. `Run.started(model)`, once the parts are built: a resumed checkpoint must hold this model's
    weights; then (and only then: a part that fails to build leaves no config behind to refuse
    the fixed command) the resolved config, provenance and header are written;
10. `Run.log_hyperparams(loggers)`: the resolved config to every logger;
11. `Run.finish(metrics, ...)`: the total time; rank 0 writes metrics.json, records W&B's
    summary and prints the result table.
After, however the steps end (`end_job`):
12. wait for W&B's start and finish it, release the run dir's lock and the GPUs, tear down the
    DDP process group, restore the env vars noted in step 1.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from biaslab.run.build import check_modality, record_unused
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
Metrics = dict[str, float]


def global_rank() -> int:
    """This process's rank in the run (torchrun, a multi-task srun step, Lightning's launcher)."""
    return rank().global_rank


@dataclass
class Run:
    """What the ML steps get from the housekeeping: the run dir, the checkpoint to resume from
    (None: start afresh), and the steps that are the housekeeping's between them."""

    cfg: DictConfig
    dir: RunDir
    ckpt_path: Any
    start: float = field(default_factory=time.perf_counter)

    def started(self, model: Any) -> None:
        """Step 9: the resumed checkpoint fits `model`; the config and provenance are saved."""
        if self.ckpt_path:
            check_fits(read_checkpoint(self.ckpt_path), model)
        save_config(self.cfg, self.dir)

    def log_hyperparams(self, loggers: list[Any]) -> None:
        """Step 10: the resolved config to every logger."""
        from biaslab.utils.wandb_run import log_hyperparams

        for logger in loggers:
            log_hyperparams(logger, OmegaConf.to_container(self.cfg, resolve=True))

    def finish(
        self, metrics: Metrics, trainer: Any, loggers: list[Any], datamodule: Any
    ) -> Metrics:
        """Step 11: the run's steps and total time; rank 0 (as the trainer knows it) writes,
        records and prints the metrics."""
        from biaslab.utils.console import print_final
        from biaslab.utils.wandb_record import record_in_wandb

        metrics = {**metrics, "time/steps": float(trainer.global_step)}
        metrics["time/total_s"] = time.perf_counter() - self.start
        if trainer.is_global_zero:
            self.dir.write_metrics(metrics)
            record_in_wandb(
                loggers, metrics, self.dir.predictions, getattr(datamodule, "class_names", None)
            )
            accelerator = str(self.cfg.trainer.accelerator)
            print_final(metrics, self.dir.path, device_name(accelerator))
        return metrics


def housekeeping(steps: Callable[[DictConfig, Run], Metrics]) -> Callable[[DictConfig], Metrics]:
    """`steps(cfg, run)` wrapped in the run's housekeeping (steps 1-12 above)."""

    @functools.wraps(steps)
    def wrapped(cfg: DictConfig) -> Metrics:
        from biaslab.utils.wandb_run import start_wandb_early

        env_before = {key: os.environ.get(key) for key in DDP_ENV}
        start_wandb_early(cfg)
        try:
            run = _before(cfg, time.perf_counter())
            return run if isinstance(run, dict) else steps(cfg, run)
        finally:
            end_job(env_before)

    return wrapped


def _before(cfg: DictConfig, start: float) -> Run | Metrics:
    """Steps 2-8; a finished sweep job's metrics instead of a `Run` (step 3)."""
    validate(cfg)
    check_tasks(cfg.trainer.get("devices"), cfg.trainer.get("num_nodes"))  # in a SLURM job
    check_modality(cfg)
    finished = finished_job(cfg)
    if finished is not None:
        return finished
    take_gpus(cfg)  # under a local parallel launcher: this job's own GPU(s), before CUDA starts
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
    _set_up_process(cfg)
    return Run(cfg, run_dir, ckpt_path, start)


def _set_up_process(cfg: DictConfig) -> None:
    """Step 8: Lightning's routine notices off the console, the seed, torch's CPU threads."""
    import lightning as L

    from biaslab.utils.console import quiet_console

    quiet_console()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    set_threads(cfg.extras.get("threads"))


def set_threads(threads: int | str | None) -> None:
    """extras.threads: torch's CPU threads for this run (`all`: one per core; null: leave the
    process's default, e.g. OMP_NUM_THREADS). Recorded with the run, so step times say it."""
    import torch

    if threads is not None:
        torch.set_num_threads((os.cpu_count() or 1) if threads == "all" else int(threads))


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
    """Step 12: leave the process as the job found it, so the next job of a sweep starts clean:
    close W&B, release the run dir, tear down the DDP process group, restore the env vars
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
