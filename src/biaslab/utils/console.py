"""A quiet, readable console: each log line once, no third-party tips, the final metrics as a
small table and the run dir's path last."""

from __future__ import annotations

import logging
from pathlib import Path

TIPS = (  # Lightning's advertising and its note that our own summary callback is in place
    "💡 Tip",
    "Trainer already configured with model summary callbacks",
)
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")


class DropTips(logging.Filter):
    """Drops third-party tips; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(TIPS)


def quiet_console() -> None:
    """Lightning's own stream handlers go (Hydra's root handler prints each line once, to the
    console and the job's log file) and tips are dropped on every root handler."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if type(h) is not logging.StreamHandler]
        logger.propagate = True
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, DropTips) for f in handler.filters):
            handler.addFilter(DropTips())


SHOWN = ("test/", "test_last/", "train_eval/", "gap/", "val/acc_best", "time/total_s")


def print_final(metrics: dict[str, float], run_dir: Path) -> None:
    """The run's headline metrics as a small table (rich), then the run dir's path, last."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Final metrics (all of them: metrics.json)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(k for k in metrics if k.startswith(SHOWN)):
        value = metrics[key]
        table.add_row(key, f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}")
    console = Console(soft_wrap=True)
    if table.row_count:
        console.print(table)
    console.print(f"Run dir: {run_dir}")
