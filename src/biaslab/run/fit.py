"""The fit and test steps of a run: Lightning's `fit`, timed, and how it ended (finished,
preempted by a signal, or pruned by an Optuna study); then the test of the best checkpoint and
the last weights. Each returns its metrics."""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

import lightning as L

from biaslab.run.evaluate import end_of_run, scalars, test_best_and_last, train_set_metrics
from biaslab.run.files import RunDir

log = logging.getLogger("biaslab")


class Fitted(NamedTuple):
    """The fit's metrics and times, and whether the run stopped early (preempted, or pruned)
    and must not be tested."""

    metrics: dict[str, float]
    stopped: bool


def fit(
    trainer: L.Trainer,
    model: L.LightningModule,
    datamodule: Any,
    ckpt_path: Any,
    run_dir: RunDir,
    before: dict[str, float],
) -> Fitted:
    """Fit; `before` (the metrics known so far) goes with a pruned run's metrics.json."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    run_dir.preempted.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:  # raised by Lightning when SIGTERM came outside a train batch
        if not run_dir.preempted.exists():
            raise
    fit_s = time.perf_counter() - start
    metrics = scalars(trainer.callback_metrics)
    seen = trainer.global_step * int(getattr(datamodule, "batch_size", 0) or 0)
    metrics["time/fit_s"] = fit_s
    metrics["time/samples_per_s"] = seen / fit_s if fit_s else 0.0
    metrics["time/epochs"] = float(trainer.current_epoch)
    if run_dir.preempted.exists():
        log.warning("Preempted: %s", run_dir.preempted.read_text().strip())
        return Fitted(metrics, stopped=True)
    if run_dir.pruned.exists():  # stopped by the study's pruner: the sweeper tells PRUNED
        log.info("Optuna trial %s", run_dir.pruned.read_text().strip())
        if trainer.is_global_zero:
            run_dir.write_metrics({**before, **metrics, "pruned": 1.0})
        return Fitted(metrics, stopped=True)
    return Fitted(metrics, stopped=False)


def test_weights(
    trainer: L.Trainer, model: L.LightningModule, datamodule: Any, run_dir: RunDir, trained: bool
) -> dict[str, float]:
    """The trained weights on the train set (rank 0, before the best checkpoint replaces them),
    the best checkpoint and the last weights on the test set, then the end-of-run evidence."""
    metrics: dict[str, float] = {}
    if trained and trainer.is_global_zero:
        metrics.update(train_set_metrics(model, datamodule))
    metrics.update(test_best_and_last(trainer, model, datamodule, trained))
    if trainer.is_global_zero:
        metrics.update(end_of_run(model, datamodule, run_dir))
    return metrics
