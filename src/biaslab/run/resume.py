"""Where a run resumes, `resume=auto` (default) or `resume=never`:

1. an explicit `ckpt_path` wins;
2. the run dir's own last checkpoint (a requeued SLURM job reruns in its own dir);
3. for a single run started again with the same command: the newest unfinished run dir beside
   this one with the same overrides and a last checkpoint is adopted, so checkpoints, logs and
   the W&B run id continue there — never one held by a live process (its lock), and never when
   the run dir was given explicitly (`hydra.run.dir=...`).

A sweep started again with the same command (the same sweep dir) skips the jobs whose run dir
already holds its final metrics.

On SLURM, Lightning's own SIGUSR1 handler (after `Preemption` has saved `last.ckpt` and handed
the signal on) saves a second checkpoint, `hpc_ckpt_<n>.ckpt`, in the run dir and requeues the
job. `last.ckpt` is the one resumed from; the `hpc_ckpt_<n>.ckpt` files are removed when a run
starts training in that dir, whatever `resume` says: Lightning would otherwise load the newest
of them wherever it is given no checkpoint on SLURM (a `resume=never` fit, the test of the last
weights), unchecked by `read_checkpoint`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.errors import ConfigError
from biaslab.run.files import RunDir

log = logging.getLogger("biaslab")

SAME_RUN_KEYS = (
    "claim",
    "seed",
    "data",
    "model",
    "module",
    "optimizer",
    "scheduler",
    "loss",
    "augment",
    "probes",
)


def find_resume(
    run_dir: RunDir, overrides: list[str] | None, multirun: bool, explicit: bool = False
) -> tuple[RunDir, Path | None]:
    """(run dir to use, checkpoint to resume from or None)."""
    if run_dir.last_ckpt.exists():
        return run_dir, run_dir.last_ckpt
    parent = run_dir.path.parent
    if multirun or explicit or overrides is None or not parent.is_dir():
        return run_dir, None
    candidates = sorted(
        (p for p in parent.iterdir() if p.is_dir() and p != run_dir.path),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for previous in map(RunDir, candidates):
        if (
            previous.last_ckpt.exists()
            and not previous.finished
            and previous.read_overrides() == overrides
            and not previous.live
        ):
            return previous, previous.last_ckpt
    return run_dir, None


def _hydra():
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def _multirun(hc) -> bool:
    return hc is not None and hc.mode is not None and hc.mode.name == "MULTIRUN"


LIGHTNING_HPC_CKPT = re.compile(r"hpc_ckpt_\d+\.ckpt")  # Lightning's SLURM handler's name


def drop_hpc_checkpoints(run_dir: RunDir) -> list[Path]:
    """Remove the checkpoints Lightning's SLURM handler left in the run dir (its
    `default_root_dir`): files named exactly `hpc_ckpt_<n>.ckpt`, directly in it, not links.
    Returns what was removed."""
    if not run_dir.path.is_dir():
        return []
    found = [
        p
        for p in sorted(run_dir.path.iterdir())
        if LIGHTNING_HPC_CKPT.fullmatch(p.name) and p.is_file() and not p.is_symlink()
    ]
    last = run_dir.last_ckpt.relative_to(run_dir.path)
    for path in found:
        path.unlink(missing_ok=True)  # another srun task of the step may have been first
        log.info("Removed %s: Lightning's SLURM checkpoint (%s is resumed from).", path, last)
    return found


def resume(cfg: DictConfig) -> Path | None:
    """Apply `resume=auto`: maybe adopt an earlier run dir (cfg.paths.output_dir then names it);
    return the checkpoint to resume from. A run that trains first clears Lightning's own SLURM
    checkpoints from its run dir (`drop_hpc_checkpoints`)."""
    ckpt = _resume(cfg)
    if cfg.get("train"):
        drop_hpc_checkpoints(RunDir(cfg.paths.output_dir))
    return ckpt


def _resume(cfg: DictConfig) -> Path | None:
    if cfg.get("ckpt_path") or not cfg.get("train") or cfg.get("resume", "auto") != "auto":
        return cfg.get("ckpt_path")
    hc = _hydra()
    overrides = list(hc.overrides.task) if hc is not None else None
    explicit = hc is not None and any(o.startswith("hydra.run.dir=") for o in hc.overrides.hydra)
    here = RunDir(cfg.paths.output_dir)
    run_dir, ckpt = find_resume(here, overrides, _multirun(hc), explicit)
    if run_dir.path != here.path:
        here.path.mkdir(parents=True, exist_ok=True)
        here.resumed_in.write_text(f"{run_dir.path}\n")
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir.path)
    if ckpt is not None:
        log.info("Resuming from %s (resume=auto; resume=never starts afresh).", ckpt)
        with open_dict(cfg):  # in the resolved config, so DDP child ranks restore it too
            cfg.ckpt_path = str(ckpt)
    return ckpt


def finished_job(cfg: DictConfig) -> dict[str, float] | None:
    """The metrics of this sweep job when its run dir already holds them (the same command run
    again): it is not run again (`resume=never` reruns it)."""
    hc = _hydra()
    run_dir = RunDir(cfg.paths.output_dir)
    if cfg.get("resume", "auto") != "auto" or not _multirun(hc) or not run_dir.finished:
        return None
    if run_dir.config.exists():  # the same job number of a changed grid is another run
        old = run_dir.read_config()
        new = OmegaConf.to_container(cfg, resolve=True)
        changed = sorted(k for k in SAME_RUN_KEYS if old.get(k) != new.get(k))
        if changed:
            raise ConfigError(
                f"{run_dir.path} holds a finished run with other settings ({', '.join(changed)} "
                "differ: the sweep's grid changed since); pass another hydra.sweep.dir."
            )
    log.info("Job already finished in %s: skipped (resume=never runs it again).", run_dir.path)
    return run_dir.read_metrics()
