"""Build callbacks and loggers from their config groups (W&B's own setup: `wandb_run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig


def instantiate_callbacks(cfg: DictConfig, have_logger: bool) -> list[Any]:
    """Callbacks from cfg.callbacks, leaving out those the trainer settings switch off
    (Lightning refuses a progress bar with enable_progress_bar=false, an LR monitor with no
    logger)."""
    off = {
        "lr_monitor": not have_logger,
        "progress_bar": not cfg.trainer.get("enable_progress_bar", True),
        "model_summary": not cfg.trainer.get("enable_model_summary", True),
    }
    callbacks = []
    nodes = {**(cfg.get("callbacks") or {}), **(cfg.get("probes") or {})}
    for name, node in nodes.items():
        if node is None or "_target_" not in node or off.get(name, False):
            continue
        callbacks.append(instantiate(node))
    return callbacks


def instantiate_loggers(cfg: DictConfig, output_dir: Path) -> list[Any]:
    loggers = []
    for name, node in (cfg.get("logger") or {}).items():
        if node is None or "_target_" not in node:
            continue
        if name == "wandb":
            from biaslab.utils.wandb_run import wandb_node

            node = wandb_node(node, output_dir)
        loggers.append(instantiate(node))
    return loggers
