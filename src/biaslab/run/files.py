"""The run directory: the one owner of every file a run writes and reads.

Every other module (callbacks, the sweeper, the preset runner, the analysis) reaches a run's
files through `RunDir`, so each file name is spelled once, here.

A run holds `<run dir>/.lock` (an advisory `flock`) while it lives; the kernel releases it when
the process dies, however it dies, so a lock left on disk by a killed run is free.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError

LOCK = ".lock"
CONFIG = "config_resolved.yaml"
OVERRIDES = ".hydra/overrides.yaml"
METRICS = "metrics.json"  # written last: its presence marks a finished run
PROVENANCE = "provenance.json"
HISTORY = "history.csv"
PREDICTIONS = "predictions.npz"
PRUNED = "pruned.txt"  # an Optuna pruner stopped the trial
PREEMPTED = "preempted.txt"  # SIGTERM / SIGUSR1 stopped the run after a checkpoint
WANDB_ID = "wandb_id.txt"
RESUMED_IN = "resumed_in.txt"  # this fresh dir handed the run on to an earlier one
CONFIG_TREE = "config_tree.log"
CHECKPOINTS = "checkpoints"
LAST_CKPT = "last.ckpt"


_held: dict[Path, int] = {}


class RunDir:
    """One run's directory: the paths of its files and the few reads and writes on them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    lock = property(lambda self: self.path / LOCK)
    config = property(lambda self: self.path / CONFIG)
    overrides = property(lambda self: self.path / OVERRIDES)
    metrics = property(lambda self: self.path / METRICS)
    provenance = property(lambda self: self.path / PROVENANCE)
    history = property(lambda self: self.path / HISTORY)
    predictions = property(lambda self: self.path / PREDICTIONS)
    pruned = property(lambda self: self.path / PRUNED)
    preempted = property(lambda self: self.path / PREEMPTED)
    wandb_id = property(lambda self: self.path / WANDB_ID)
    resumed_in = property(lambda self: self.path / RESUMED_IN)
    config_tree = property(lambda self: self.path / CONFIG_TREE)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    last_ckpt = property(lambda self: self.path / CHECKPOINTS / LAST_CKPT)

    def rank_config(self, rank: int) -> Path:
        """What a DDP child rank ran (rank 0 writes `config`)."""
        return self.path / f"config_resolved_rank{rank}.yaml"

    @property
    def finished(self) -> bool:
        return self.metrics.exists()

    def read_metrics(self) -> dict[str, float]:
        return json.loads(self.metrics.read_text()) if self.metrics.exists() else {}

    def write_metrics(self, metrics: dict[str, float]) -> None:
        """Strict JSON: a non-finite value (a diverged loss) is written as null."""
        finite = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
        self.metrics.write_text(json.dumps(finite, indent=1, sort_keys=True, allow_nan=False))

    def clean_litter(self) -> list[Path]:
        """Remove what a kill can leave behind: half-written files (`.*.tmp`) and checkpoints
        that the last checkpoint's own state does not name (a best checkpoint written for an
        epoch that the kill rolled back). Returns what was removed."""
        litter = [*self.path.glob(".*.tmp"), *self.checkpoints.glob(".*.tmp")]
        if self.last_ckpt.exists():
            import torch

            try:
                state = torch.load(self.last_ckpt, map_location="cpu", weights_only=True)
            except Exception:  # unreadable: leave everything for the user to see
                state = None
            if state is not None:
                named = {LAST_CKPT}
                for entry in (state.get("callbacks") or {}).values():
                    if isinstance(entry, dict):
                        for key in ("best_model_path", "last_model_path", "kth_best_model_path"):
                            named.add(Path(str(entry.get(key) or "")).name)
                        named.update(Path(str(p)).name for p in entry.get("best_k_models") or {})
                litter += [p for p in self.checkpoints.glob("*.ckpt") if p.name not in named]
        for path in litter:
            path.unlink(missing_ok=True)
        return litter

    def read_overrides(self) -> list[str] | None:
        import yaml

        return yaml.safe_load(self.overrides.read_text()) if self.overrides.exists() else None

    def read_config(self) -> dict[str, Any]:
        import yaml

        return (yaml.safe_load(self.config.read_text()) or {}) if self.config.exists() else {}

    def read_provenance(self) -> dict[str, Any]:
        return json.loads(self.provenance.read_text()) if self.provenance.exists() else {}

    @property
    def live(self) -> bool:
        """Does a live process hold this run dir's lock?"""
        if self.path in _held or not self.lock.exists():
            return self.path in _held
        fd = os.open(self.lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def hold(self) -> None:
        """Take the run dir's lock for the rest of this process, or say who holds it."""
        if self.path in _held:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"hydra.run.dir={self.path} is in use by a live run; wait for it to end or pass "
                "another hydra.run.dir."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[self.path] = fd


def find_runs(root: str | Path) -> list[RunDir]:
    """Every run dir below `root` (a sweep, a tuned preset's sweeps, a published copy): the
    folders that hold a resolved config, in path order."""
    return [RunDir(p.parent) for p in sorted(Path(root).rglob(CONFIG))]


def release_all() -> None:
    """Drop this process's run-dir locks (a sweep's next job runs in another dir)."""
    while _held:
        _, fd = _held.popitem()
        os.close(fd)
