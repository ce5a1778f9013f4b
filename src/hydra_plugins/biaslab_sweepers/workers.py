"""The Optuna sweeper's locks: the study's (workers sharing a SQLite study ask one at a time),
each sweeper's own (a trial naming a free lock was left RUNNING by a dead sweeper), and the cut
of trials into launches whose job numbers are the trials' own."""

import contextlib
import fcntl
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def _study_lock(storage: str) -> Iterator[None]:
    """Hold `<db>.lock` (an advisory flock) for a SQLite study, so workers sharing it count the
    begun trials and ask for new ones one at a time. A server database (postgresql://, mysql://)
    gets no lock: there, workers starting together may begin up to n_jobs trials more each."""
    prefix = "sqlite:///"
    if not storage.startswith(prefix):
        yield
        return
    with open(storage[len(prefix) :] + ".lock", "a") as fd:  # closing it releases the lock
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def _worker_lock(folder: Path) -> Iterator[str]:
    """Hold a lock file of this sweeper's own (`<folder>/.optuna_workers/`) for the sweep's life
    and yield its name, "<host>:<path>": the kernel frees it when the process dies, however it
    dies, so a trial naming a free lock was left RUNNING by a dead sweeper."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.lock"
    with open(path, "w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield f"{socket.gethostname()}:{path.resolve()}"
        finally:
            path.unlink(missing_ok=True)


def _worker_dead(worker: str | None, locked_storage: bool) -> bool:
    """Whether the sweeper named `worker` ("<host>:<lock file>") is gone. A worker on another
    machine cannot be asked (its trials are left to it); a trial with no worker named was begun
    by an older sweeper, and counts as orphaned only where every live worker names itself
    before the study lock is released (SQLite)."""
    if not worker:
        return locked_storage
    host, _, path = worker.partition(":")
    if host != socket.gethostname():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:  # removed by its sweeper as it ended
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _runs(trials: list) -> list[list]:
    """`trials` sorted by number and cut into runs of consecutive numbers: each run is one
    launch whose job numbers (and job dirs) are the trials' own numbers."""
    runs: list[list] = []
    for trial in sorted(trials, key=lambda t: t.number):
        if runs and runs[-1][-1].number + 1 == trial.number:
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs
