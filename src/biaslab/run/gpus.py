"""A GPU pool for local parallel sweeps: each job takes its own GPU(s), not all the first one.

Jobs of one sweep under joblib or submitit_local run as separate processes on one node. Each
takes `trainer.devices` GPUs from those visible to the sweep before CUDA starts (it then sees
only them: CUDA_VISIBLE_DEVICES), and holds one lock file per GPU slot (an advisory `flock`,
which the kernel releases when the process ends, however it ends: a killed job never keeps a
GPU). `extras.jobs_per_gpu` > 1 lets that many small jobs share a card. A job waits while no
slot is free, so `n_jobs` larger than the slots queues.

The pool's view of the devices is injectable: BIASLAB_GPUS=4 (a count) pretends there are 4,
so the pool is tested on a machine without GPUs.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from biaslab.errors import ConfigError

_held: list[int] = []  # this process's slot locks (file descriptors), kept until it ends
_last: list[str] = []  # the GPUs this process had: CUDA, once started, keeps seeing only them


def visible_gpus() -> list[str]:
    """The GPU ids this process may use: BIASLAB_GPUS (a count, for tests), else
    CUDA_VISIBLE_DEVICES, else every GPU torch sees."""
    fake = os.environ.get("BIASLAB_GPUS")
    if fake is not None:
        return [str(i) for i in range(int(fake))]
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d for d in listed.split(",") if d.strip() != ""]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def acquire(devices: int, folder: Path, jobs_per_gpu: int = 1, poll_s: float = 0.2) -> list[str]:
    """Take `devices` distinct GPUs (each with one of its `jobs_per_gpu` slots free), waiting
    while none are; set CUDA_VISIBLE_DEVICES to them; return their ids. One sentence when the
    node has fewer GPUs than asked."""
    gpus = visible_gpus()
    if devices > len(gpus):
        raise ConfigError(
            f"trainer.devices={devices} but this node has {len(gpus)} GPU(s) for the sweep; "
            f"pass trainer.devices={max(1, len(gpus))} or fewer."
        )
    folder.mkdir(parents=True, exist_ok=True)
    if _last and _cuda_started():  # a reused worker (joblib): CUDA cannot change its devices
        gpus = list(_last)
    while True:
        taken: list[tuple[str, int]] = []
        for gpu in gpus:
            for slot in range(jobs_per_gpu):
                fd = os.open(folder / f"gpu{gpu}.slot{slot}.lock", os.O_RDWR | os.O_CREAT)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                taken.append((gpu, fd))
                break
            if len(taken) == devices:
                _held.extend(fd for _, fd in taken)
                ids = [gpu for gpu, _ in taken]
                os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
                _last[:] = ids
                return ids
        for _, fd in taken:  # not enough free at once: give back, wait, try again
            os.close(fd)
        time.sleep(poll_s)


def _cuda_started() -> bool:
    import sys

    return "torch" in sys.modules and sys.modules["torch"].cuda.is_initialized()


def release() -> None:
    """Give back this process's GPUs (a job's end; the process's end does it anyway)."""
    while _held:
        os.close(_held.pop())


def lock_folder() -> Path:
    """Where the slot locks live: one folder per user and node (BIASLAB_GPU_LOCKS overrides)."""
    import tempfile

    default = Path(tempfile.gettempdir()) / f"biaslab-gpus-{os.getuid()}"
    return Path(os.environ.get("BIASLAB_GPU_LOCKS") or default)


def take_gpus(cfg) -> list[str] | None:
    """The run's GPUs from the pool when `extras.gpu_pool` asks for it (auto: a GPU run under
    joblib or submitit_local), before CUDA starts; None when the pool is off."""
    from biaslab.run.checks import _launcher_target

    parallel = any(k in _launcher_target(cfg) for k in ("JoblibLauncher", "LocalLauncher"))
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if not pool_wanted(cfg.extras.get("gpu_pool", "auto"), accelerator, parallel):
        return None
    devices = cfg.trainer.get("devices", 1)
    devices = int(devices) if str(devices).isdigit() else 1
    return acquire(devices, lock_folder(), int(cfg.extras.get("jobs_per_gpu", 1)))


def pool_wanted(setting: str | bool, accelerator: str, parallel_launcher: bool) -> bool:
    """extras.gpu_pool: true, false, or auto (a GPU run under a local parallel launcher)."""
    if setting in (True, "true"):
        return True
    if setting in (False, "false", None):
        return False
    return accelerator in ("gpu", "cuda") and parallel_launcher
