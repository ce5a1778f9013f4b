"""Find where a run should resume: `resume=auto` (default) or `resume=never`.

1. an explicit `ckpt_path` wins;
2. the run dir's own `checkpoints/last.ckpt` (a requeued SLURM job reruns in its own dir);
3. for a single run started again with the same command: the newest unfinished run dir beside
   this one with the same overrides and a `last.ckpt` is adopted, so checkpoints, logs and the
   W&B run id continue there — never one held by a live process (its `.lock`), and never when
   the run dir was given explicitly (`hydra.run.dir=...`).

A run holds `<run dir>/.lock` (an advisory `flock`) while it lives; the kernel releases it
when the process dies, however it dies, so a lock left on disk by a killed run is free.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import yaml

from biaslab.errors import ConfigError

FINISHED_MARKER = "metrics.json"


def _overrides(run_dir: Path) -> list[str] | None:
    path = run_dir / ".hydra" / "overrides.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


LOCK = ".lock"
_held: dict[Path, int] = {}


def is_live(run_dir: Path) -> bool:
    """Does a live process hold this run dir's lock?"""
    path = run_dir / LOCK
    if run_dir in _held or not path.exists():
        return run_dir in _held
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def hold(run_dir: Path) -> None:
    """Take the run dir's lock for the rest of this process, or say who holds it."""
    if run_dir in _held:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"hydra.run.dir={run_dir} is in use by a live run; wait for it to end or pass "
            "another hydra.run.dir."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[run_dir] = fd


def release_all() -> None:
    """Drop this process's run-dir locks (a sweep's next job runs in another dir)."""
    while _held:
        _, fd = _held.popitem()
        os.close(fd)


def find_resume(
    run_dir: Path, overrides: list[str] | None, multirun: bool, explicit: bool = False
) -> tuple[Path, Path | None]:
    """(run dir to use, checkpoint to resume from or None)."""
    own = run_dir / "checkpoints" / "last.ckpt"
    if own.exists():
        return run_dir, own
    if multirun or explicit or overrides is None or not run_dir.parent.is_dir():
        return run_dir, None
    candidates = sorted(
        (p for p in run_dir.parent.iterdir() if p.is_dir() and p != run_dir),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for previous in candidates:
        last = previous / "checkpoints" / "last.ckpt"
        if (
            last.exists()
            and not (previous / FINISHED_MARKER).exists()
            and _overrides(previous) == overrides
            and not is_live(previous)
        ):
            return previous, last
    return run_dir, None
