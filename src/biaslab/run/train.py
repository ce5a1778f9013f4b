"""train(cfg): what src/train.py runs once Hydra has parsed: the ML steps alone. The run's
housekeeping (W&B, GPU lease, resume, lock, litter, rank, cleanup) is the wrapper's, in the
order `biaslab.run.housekeeping` writes down."""

from __future__ import annotations

from omegaconf import DictConfig

from biaslab.run.build import build_callbacks, build_components, build_trainer
from biaslab.run.housekeeping import Run, housekeeping
from biaslab.run.loggers import build_loggers


@housekeeping
def train(cfg: DictConfig, run: Run) -> dict[str, float]:
    """Build data, model and trainer; fit; test the best checkpoint and the last weights.
    Returns every scalar metric (also in the run dir's metrics.json)."""
    from biaslab.run.fit import fit, test_weights
    from biaslab.utils.checkpoint_io import AtomicCheckpointIO

    datamodule, model = build_components(cfg)
    run.started(model)
    loggers = build_loggers(cfg, run.dir.path)
    callbacks = build_callbacks(cfg, run.dir, have_logger=bool(loggers))
    trainer = build_trainer(cfg, callbacks, loggers, [AtomicCheckpointIO()])
    run.log_hyperparams(loggers)
    metrics = {"params/total": float(sum(p.numel() for p in model.parameters()))}
    if cfg.get("train"):
        fitted = fit(trainer, model, datamodule, run.ckpt_path, run.dir, metrics)
        metrics = {**metrics, **fitted.metrics}
        if fitted.stopped:  # preempted (resume with the same command) or pruned (no test)
            return metrics
    if cfg.get("test"):
        trained = bool(cfg.get("train"))
        metrics = {**metrics, **test_weights(trainer, model, datamodule, run.dir, trained)}
    return run.finish(metrics, trainer, loggers, datamodule)
