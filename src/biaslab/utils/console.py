"""A quiet, readable console: each log line once, no third-party tips, Lightning's routine
notices and the known third-party noise kept off the console (the job's log file keeps the
notices), the final metrics as a small table with the run's cost, and the run dir's path last."""

from __future__ import annotations

import logging
import math
import re
import warnings
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


# Lightning's routine notices: the header says the device and the seed; train.log keeps them
NOTICES = (
    "Seed set to",
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "LOCAL_RANK:",
    "Loading `train_dataloader` to estimate number of stepping batches",
    "Restoring states from the checkpoint path at",
    "Loaded model weights from the checkpoint at",
)
# Python warnings that say nothing about the run, each named with why it is noise
KNOWN_NOISE = (
    # Lightning, wherever `srun` is installed: our SLURM launcher starts the tasks with srun
    "The `srun` command is available on your system but is not used",
    # Lightning's own pytree helper calling an API the installed torch deprecates
    "`isinstance(treespec, LeafSpec)` is deprecated",
)


class DropNotices(logging.Filter):
    """On the console only: drops Lightning's routine notices; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name.startswith("lightning") and str(record.getMessage()).startswith(NOTICES)
        )


def quiet_console() -> None:
    """Lightning's own stream handlers go (Hydra's root handler prints each line once, to the
    console and the job's log file), tips are dropped on every root handler, Lightning's routine
    notices on the console's, and the known noise warnings (by their message) everywhere."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if type(h) is not logging.StreamHandler]
        logger.propagate = True
    for handler in logging.getLogger().handlers:
        wanted = [DropTips] + [DropNotices] * (not isinstance(handler, logging.FileHandler))
        for kind in wanted:
            if not any(isinstance(f, kind) for f in handler.filters):
                handler.addFilter(kind())
    for message in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=re.escape(message))


SHOWN = ("test/", "test_last/", "train_eval/", "gap/", "val/acc_best", "params/")


def cost(metrics: dict[str, float], device: str) -> str:
    """The run's cost, comparable across machines: steps per second beside the wall time."""
    steps, fit_s = metrics.get("time/steps", 0.0), metrics.get("time/fit_s", 0.0)
    rate = f" ({steps / fit_s:.2f} steps/s)" if steps and fit_s else ""
    return (
        f"Cost: {steps:.0f} steps in {fit_s:.1f} s of fitting{rate}; the job "
        f"{metrics.get('time/total_s', 0.0):.1f} s wall; on {device or 'this machine'}"
    )


def _shown(value: float) -> str:
    """A count as a count (65,834), a share or loss with four decimals (1.0000), a large value
    short."""
    if math.isfinite(value) and value == int(value) and abs(value) >= 2:
        return f"{value:,.0f}"
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"


def print_final(metrics: dict[str, float], run_dir: Path, device: str = "") -> None:
    """The run's headline metrics as a small table (rich), its cost, then the run dir's path,
    last."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Final metrics (all of them: metrics.json)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(k for k in metrics if k.startswith(SHOWN)):
        value = metrics[key]
        table.add_row(key, _shown(value))
    console = Console(soft_wrap=True)
    if table.row_count:
        console.print(table)
    console.print(cost(metrics, device), highlight=False)
    console.print(f"Run dir: {run_dir}")
