"""Loggers that keep what a run logged before it was stopped and resumed."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


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
    row logged before a kill or a preemption), and columns written by other processes are kept."""

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
