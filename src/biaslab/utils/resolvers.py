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


def run_name() -> str:
    """A single run's dir name, `<date>_<time>_<unique>`; in a multi-task srun step
    `slurm-<job id>.<step id>` (`<array job>_<task>` in an array): every task of the step composes
    its own config and must name the same dir, and a requeued job, which keeps its ids, finds
    its dir again and resumes there."""
    import time

    from biaslab.utils.rank import slurm_step

    if not slurm_step():
        return f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{_UNIQUE}"
    env = os.environ
    array = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    job = "_".join(array) if all(array) else env.get("SLURM_JOB_ID", "job")
    return f"slurm-{job}.{env.get('SLURM_STEP_ID') or env.get('SLURM_STEPID', '0')}"


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


def gpus_per_node(accelerator: str, devices: int | str) -> int:
    """GPUs a SLURM job asks for per node: none for `trainer.accelerator=cpu` (its devices are
    processes), else `trainer.devices` (`${biaslab.gpus_per_node:${trainer.accelerator},...}`)."""
    return 0 if str(accelerator) == "cpu" else int(devices)


def command_name() -> str:
    """A sweep dir's name from the command's own arguments, not the clock, so the identical
    command after a stop finds its sweep and resumes it: a readable part and a hash of the
    whole (`model-cnn-vit_seed-0-1-3f2a9c1e`: letters, digits and `_.-` only, so the path is
    itself a valid override value, as a DDP child rank's `hydra.run.dir=` needs). Resolved once, in the sweep's process; Hydra
    copies the resolver cache into every job's config, as it does for `${now:}`."""
    import hashlib
    import re
    import sys

    items = [a for a in sys.argv[1:] if a not in ("-m", "--multirun")]
    digest = hashlib.sha1("\n".join(items).encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(items)).strip("_-")[:60] or "defaults"
    return f"{readable}-{digest}"


def register() -> None:
    resolvers = {
        "biaslab.wandb_offline": wandb_offline,
        "biaslab.unique": unique,
        "biaslab.run_name": run_name,
        "biaslab.count_classes": count_classes,
        "biaslab.root": root_dir,
        "biaslab.scale": scale,
        "biaslab.add": add,
        "biaslab.command_name": command_name,
        "biaslab.gpus_per_node": gpus_per_node,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=True)


register()
