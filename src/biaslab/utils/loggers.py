"""Loggers that keep what a run logged before it was stopped and resumed."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only


class _HeaderMergingWriter(ExperimentWriter):
    """Lightning's writer, except that before each save it reads the header already on disk:
    other processes (ddp_spawn's workers, a run before a resume) may have written columns this
    process never logged, and appending under a shorter header fails or misplaces values."""

    def save(self) -> None:
        if self.metrics and self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                on_disk = next(csv.reader(f), [])
            self.metrics_keys = sorted(set(self.metrics_keys) | set(on_disk))
        super().save()


class CSVLogger(LightningCSVLogger):
    """Lightning's CSVLogger, except that a run resumed in the same folder appends to its
    `metrics.csv` (Lightning's writer deletes an existing file on start, which would lose every
    row logged before a kill or a preemption), and columns written by other processes are kept.

    No kill loses or repeats a row, as with the run's history: Lightning logs an epoch's train
    row after that epoch's checkpoints, so `biaslab.callbacks.evidence.EpochHistory` writes it
    here first (`write_epoch_row`: written and fsynced before the checkpoints) and the later copy
    is dropped; a resumed run first drops the rows its checkpoint does not hold
    (`keep_rows_before_step`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._early: dict[int, set[str]] = {}  # epoch -> keys of the train row written early

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        epoch = metrics.get("epoch")
        early = self._early.get(int(epoch)) if epoch is not None else None
        if early is not None and set(metrics) <= early:  # written before the checkpoints
            return
        super().log_metrics(metrics, step)

    @rank_zero_only
    def write_epoch_row(self, values: dict[str, float], epoch: int, step: int) -> None:
        """Write `values` (the epoch's train/loss, train/acc) as the epoch's row now, flushed
        and synced with everything logged before it, ahead of the epoch's checkpoints."""
        row = {**values, "epoch": epoch}
        self.experiment.log_metrics(row, step)
        self.experiment.save()
        with open(self.experiment.metrics_file_path, "rb+") as f:
            os.fsync(f.fileno())
        self._early[epoch] = set(row)

    @rank_zero_only
    def keep_rows_before_step(self, step: int) -> None:
        """Drop the file's rows logged at `step` or later (a resumed run logs them again from
        its checkpoint); atomically, so a kill leaves the old file."""
        path = Path(self.experiment.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        if len(rows) < 2 or "step" not in rows[0]:
            return
        col = rows[0].index("step")
        kept = [rows[0], *(r for r in rows[1:] if not r[col] or int(float(r[col])) < step)]
        if len(kept) < len(rows):
            tmp = path.with_name(f".{path.name}.tmp")
            with tmp.open("w", newline="") as f:
                csv.writer(f).writerows(kept)
            tmp.replace(path)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is not None:
            return self._experiment
        path = Path(self.log_dir) / ExperimentWriter.NAME_METRICS_FILE
        kept = path.with_name(f".{path.name}.kept")
        if path.is_file():
            path.replace(kept)  # out of the writer's reach while it starts
        with warnings.catch_warnings():  # its "previous log files will be deleted" is not so here
            warnings.simplefilter("ignore")
            writer = super().experiment
        if kept.is_file():
            with kept.open(newline="") as f:
                header = next(csv.reader(f), [])
            kept.replace(path)
            writer.metrics_keys = sorted(header)  # the writer appends under this header
        writer.__class__ = _HeaderMergingWriter
        return writer
