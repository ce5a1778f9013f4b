"""train(cfg) and evaluate(cfg): what src/train.py and src/eval.py run once Hydra has parsed."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from biaslab.utils.config import print_config_tree
from biaslab.utils.instantiate import instantiate_callbacks, instantiate_loggers
from biaslab.utils.validate import ConfigError, validate

log = logging.getLogger("biaslab")


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def _prepare(cfg: DictConfig) -> Path:
    """Validate, print and save the config; return the run's output dir."""
    validate(cfg)
    if cfg.extras.get("enforce_tags") and not cfg.get("tags"):
        raise ConfigError("tags=[] is empty while extras.enforce_tags=true; pass tags=[my_tag].")
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, output_dir / "config_resolved.yaml", resolve=True)
    if cfg.extras.get("print_config"):
        print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    if cfg.extras.get("ignore_warnings"):
        import warnings

        warnings.filterwarnings("ignore")
    return output_dir


def finish_wandb() -> None:
    """Close the W&B run (if W&B was ever imported), so the next job starts its own."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint. Returns every logged scalar metric."""
    output_dir = _prepare(cfg)
    import lightning as L

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.module, _recursive_=False)
    loggers = instantiate_loggers(cfg, output_dir)
    callbacks = instantiate_callbacks(cfg, have_logger=bool(loggers))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    metrics: dict[str, float] = {}
    try:
        if cfg.get("train"):
            trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
            metrics.update(_scalars(trainer.callback_metrics))
        if cfg.get("test"):
            best = (
                trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            )
            if not best:
                log.warning("No best checkpoint: testing the current weights.")
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
            metrics.update(_scalars(trainer.callback_metrics))
    finally:
        finish_wandb()
    if trainer.is_global_zero:
        log.info("Metrics: %s", {k: round(v, 4) for k, v in sorted(metrics.items())})
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint at cfg.ckpt_path; the model is rebuilt from its own hparams."""
    output_dir = _prepare_eval(cfg)
    import lightning as L

    from biaslab.module import Classifier

    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    model = Classifier.load_from_checkpoint(cfg.ckpt_path, map_location="cpu")
    datamodule = instantiate(cfg.data)
    loggers = instantiate_loggers(cfg, output_dir)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    try:
        trainer.test(model, datamodule=datamodule)
    finally:
        finish_wandb()
    return _scalars(trainer.callback_metrics)


def _prepare_eval(cfg: DictConfig) -> Path:
    if not Path(cfg.ckpt_path).is_file():
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} is not a file; pass ckpt_path=/path/to/x.ckpt."
        )
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if cfg.extras.get("print_config"):
        print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    return output_dir
