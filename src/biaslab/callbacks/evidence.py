"""What a claim needs, recorded for every run: the per-epoch history (train loss too, whatever
the logger) and the median training step time."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

HISTORY_KEYS = ("train/loss", "train/acc", "val/loss", "val/acc", "wall_s")


class EpochHistory(L.Callback):
    """The CSV file `path` (the run dir's history): epoch, step, the epoch's train/val loss and accuracy and the
    seconds since this process began fitting, one row per finished epoch (appended, so a resumed
    run keeps its past). Rank 0 only. It also times every training step (forward, backward,
    optimiser; no data loading, no validation): their median is `time/step_ms`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.last_epoch = -1
        self.start = time.perf_counter()
        self.step_start, self.step_s = 0.0, []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *_) -> None:
        self.step_start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *_) -> None:
        if pl_module.device.type == "cuda":  # kernels run asynchronously: wait for them
            torch.cuda.synchronize()
        self.step_s.append(time.perf_counter() - self.step_start)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def _record(self, trainer: L.Trainer, epoch: int) -> None:
        m = trainer.callback_metrics
        if epoch <= self.last_epoch or "train/loss" not in m or not trainer.is_global_zero:
            return
        row = {"epoch": epoch, "step": trainer.global_step}
        row.update({k: float(m[k]) for k in HISTORY_KEYS if k in m})
        row["wall_s"] = round(time.perf_counter() - self.start, 3)
        append_row(self.path, row, ["epoch", "step", *HISTORY_KEYS])
        self.last_epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch > 0:  # the metrics of the epoch that just ended
            self._record(trainer, trainer.current_epoch - 1)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, trainer.current_epoch - 1)
        if self.step_s:
            median = float(np.median(self.step_s)) * 1000
            trainer.callback_metrics["time/step_ms"] = torch.tensor(median)


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
