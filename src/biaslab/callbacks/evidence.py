"""What a claim needs, recorded for every run: the per-epoch history (train loss too, whatever
the logger) and the median training step time."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

HISTORY_KEYS = ("train/loss", "train/acc", "val/loss", "val/acc", "wall_s")


class EpochHistory(L.Callback):
    """The CSV file `path` (the run dir's history): epoch, step, the epoch's train/val loss and
    accuracy and the seconds since this process began fitting, one row per finished epoch.
    Rank 0 only. It also times every training step (forward, backward, optimiser; no data
    loading, no validation): their median is `time/step_ms`.

    A row is written, flushed and synced when its epoch ends, before that epoch's checkpoints
    (this callback's hooks run before the checkpoint callbacks'): after the epoch-end
    validation, or at the epoch's end when it has none. A resumed run first drops the rows of
    epochs its checkpoint does not hold (a kill between a row and its checkpoint), so the
    history is the checkpointed state's and no kill window loses or repeats a row."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.last_epoch = -1
        self.start = time.perf_counter()
        self.step_start, self.step_s = 0.0, []
        self.trimmed = False
        self.validated = -1  # the last epoch a validation ended in: its val/* go in that row

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *_) -> None:
        self.step_start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *_) -> None:
        if pl_module.device.type == "cuda":  # kernels run asynchronously: wait for them
            torch.cuda.synchronize()
        self.step_s.append(time.perf_counter() - self.step_start)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The checkpoint is restored, nothing logged yet: a CSV logger drops the rows of steps
        the checkpoint does not hold, as the history does its epochs' rows."""
        for logger in trainer.loggers if trainer.is_global_zero else ():
            if hasattr(logger, "keep_rows_before_step"):
                logger.keep_rows_before_step(_logged_step(trainer))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.trimmed and trainer.is_global_zero:  # the first epoch of this process
            self.trimmed = True
            keep_rows_before(self.path, trainer.current_epoch)
            self.last_epoch = trainer.current_epoch - 1

    def _record(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int) -> None:
        m = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if self.validated != epoch:  # no validation in this epoch: no val/* in its row
            m = {}
        m.update(getattr(pl_module, "train_epoch", None) or {})
        if epoch <= self.last_epoch or "train/loss" not in m or not trainer.is_global_zero:
            return
        row = {"epoch": epoch, "step": trainer.global_step}
        row.update({k: m[k] for k in HISTORY_KEYS if k in m})
        row["wall_s"] = round(time.perf_counter() - self.start, 3)
        append_row(self.path, row, ["epoch", "step", *HISTORY_KEYS])
        self.last_epoch = epoch
        train = {k: m[k] for k in ("train/loss", "train/acc") if k in m}
        for logger in trainer.loggers:  # Lightning logs this row after the checkpoints
            if hasattr(logger, "write_epoch_row"):
                logger.write_epoch_row(train, epoch, _logged_step(trainer))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn != "fit" or trainer.sanity_checking:  # not in validate() or test()
            return
        self.validated = trainer.current_epoch
        last = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        budget = trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps
        if last or budget:  # the epoch's (or the run's) end, before its checkpoint
            _summarize(pl_module)
            self._record(trainer, pl_module, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _summarize(pl_module)  # an epoch without validation, or one cut short
        self._record(trainer, pl_module, trainer.current_epoch)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.step_s:
            median = float(np.median(self.step_s)) * 1000
            trainer.callback_metrics["time/step_ms"] = torch.tensor(median)


def _logged_step(trainer: L.Trainer) -> int:
    """The step Lightning writes with an epoch's rows (its count of batches that stepped)."""
    loop = trainer.fit_loop.epoch_loop
    return int(getattr(loop, "_batches_that_stepped", trainer.global_step))


def _summarize(pl_module: L.LightningModule) -> None:
    """Ask the module to sum up the epoch's train metrics now (the lab's module does so itself at
    an epoch's last batch; an epoch cut short by max_steps or a stop has not yet)."""
    summarize = getattr(pl_module, "summarize_train_epoch", None)
    if callable(summarize):
        summarize()


def keep_rows_before(path: Path, epoch: int) -> None:
    """Drop the CSV's rows of `epoch` and later (atomically: a kill leaves the old file)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        return
    epoch_col = rows[0].index("epoch")
    kept = [rows[0], *(r for r in rows[1:] if int(float(r[epoch_col])) < epoch)]
    if len(kept) == len(rows):
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)
    tmp.replace(path)


def append_row(path: Path, row: dict, fieldnames: list[str]) -> None:
    """Append `row` to a CSV; a file written with fewer columns (an older run resumed here) is
    rewritten once under the wider header, its old rows kept with those cells empty."""
    if path.exists():
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header = rows[0] if rows else []
        if header != fieldnames and set(header) <= set(fieldnames):
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fieldnames)
                writer.writeheader()
                writer.writerows(dict(zip(header, r)) for r in rows[1:])
        elif header:
            fieldnames = header
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        f.flush()
        os.fsync(f.fileno())  # on disk before the epoch's checkpoint is written
