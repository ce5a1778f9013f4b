"""The probe base: where a probe's outputs go, written once for every probe.

`Probe.save(trainer, stem, rows, figure)` writes `<run dir>/probes/<stem>.csv` and `.png` and,
with a W&B logger attached, logs the same as a W&B table and image (rank 0 only).
"""

from __future__ import annotations

import csv
import sys
import threading
from pathlib import Path
from typing import Any

import lightning as L

_preload: threading.Thread | None = None


def _import_pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pyplot():
    """matplotlib.pyplot (Agg), after the background import if one is running."""
    if _preload is not None and _preload is not threading.current_thread():
        _preload.join()
    return _import_pyplot()


def preload_plotting() -> None:
    """Import matplotlib (~0.5 s) in a background thread while training runs, so plots drawn
    at the end of fit cost only their drawing."""
    global _preload
    if _preload is None and "matplotlib.pyplot" not in sys.modules:
        _preload = threading.Thread(target=_import_pyplot, daemon=True)
        _preload.start()


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def wandb_logger(trainer: L.Trainer):
    from lightning.pytorch.loggers import WandbLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)


def fixed_batch(trainer: L.Trainer, pl_module: L.LightningModule, split: str, n: int):
    """The first `n` examples of a split, on the module's device (the same every call)."""
    dm = trainer.datamodule
    loader = dm.val_dataloader() if split == "val" else dm.test_dataloader()
    inputs, targets = next(iter(loader))
    return inputs[:n].to(pl_module.device), targets[:n].to(pl_module.device)


class Probe(L.Callback):
    """Base: starts the background import of the plotting library when fit starts; `save`."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preload_plotting()

    @staticmethod
    def out_dir(trainer: L.Trainer) -> Path:
        path = Path(trainer.default_root_dir) / "probes"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save(
        self,
        trainer: L.Trainer,
        stem: str,
        rows: list[dict[str, Any]] | None = None,
        figure: Any = None,
    ) -> None:
        """CSV of `rows` and PNG of `figure` (closed here), then the same to W&B as
        `probes/<stem>` (table) and `probes/<stem>_plot` (image). Rank 0 only."""
        if not trainer.is_global_zero:
            if figure is not None:
                pyplot().close(figure)
            return
        out = self.out_dir(trainer)
        png = None
        if rows:
            write_csv(out / f"{stem}.csv", rows)
        if figure is not None:
            png = out / f"{stem}.png"
            figure.savefig(png, dpi=80)
            pyplot().close(figure)
        logger = wandb_logger(trainer)
        if logger is None:
            return
        if rows:
            logger.log_table(
                key=f"probes/{stem}", columns=list(rows[0]), data=[list(r.values()) for r in rows]
            )
        if png is not None:
            logger.log_image(key=f"probes/{stem}_plot", images=[str(png)])
