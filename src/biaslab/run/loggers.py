"""A run's loggers from `logger:`: training's (`build_loggers`) and src/eval.py's, whose W&B
run joins the tested run's group (`eval_loggers`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.run.files import RunDir


def build_loggers(cfg: DictConfig, output_dir: Path) -> list[Any]:
    """The configured loggers; W&B's node completed first (offline when unreachable, its run
    id kept in the run dir so a resumed run continues the same W&B run)."""
    from hydra.utils import instantiate

    loggers = []
    for name, node in (cfg.get("logger") or {}).items():
        if node is None or "_target_" not in node:
            continue
        if name == "wandb":
            from biaslab.utils.wandb_run import wandb_node

            node = wandb_node(node, output_dir, RunDir(output_dir).wandb_id)
        loggers.append(instantiate(node))
    return loggers


def eval_loggers(cfg: DictConfig, output_dir: Path) -> list[Any]:
    """`src/eval.py`'s loggers (`build_loggers`), its W&B run (job_type `eval`) in the group of
    the run whose checkpoint it tests, named `eval-<that run's name>` (both read from that
    run's own W&B run file beside the checkpoints' folder), with the eval config and the
    tested run's id and checkpoint logged as its config."""
    from biaslab.utils.wandb_record import trained_run
    from biaslab.utils.wandb_run import log_hyperparams

    node = (cfg.get("logger") or {}).get("wandb")
    trained = trained_run(Path(str(cfg.ckpt_path)))
    if node is not None and "_target_" in node and trained is not None:
        with open_dict(cfg):
            node.group = node.group or trained.group or None
            node.name = node.name or f"eval-{trained.name}"
    loggers = build_loggers(cfg, output_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    config["evaluated"] = {"run_id": trained.id if trained else None, "ckpt": str(cfg.ckpt_path)}
    for logger in loggers:
        log_hyperparams(logger, config)
    return loggers
