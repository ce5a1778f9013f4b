"""The fit step of a run: Lightning's `fit`, timed, and how it ended (finished, preempted by a
signal, or pruned by an Optuna study)."""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L

from biaslab.run.evaluate import scalars
from biaslab.run.files import RunDir

log = logging.getLogger("biaslab")


def fit(
    trainer: L.Trainer,
    model: L.LightningModule,
    datamodule: Any,
    ckpt_path: Any,
    run_dir: RunDir,
    metrics: dict[str, float],
) -> bool:
    """Fit and add the fit's metrics and times to `metrics`; True when the run stopped early
    (preempted, or pruned) and must not be tested."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    run_dir.preempted.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:  # raised by Lightning when SIGTERM came outside a train batch
        if not run_dir.preempted.exists():
            raise
    fit_s = time.perf_counter() - start
    metrics.update(scalars(trainer.callback_metrics))
    seen = trainer.global_step * int(getattr(datamodule, "batch_size", 0) or 0)
    metrics["time/fit_s"] = fit_s
    metrics["time/samples_per_s"] = seen / fit_s if fit_s else 0.0
    metrics["time/epochs"] = float(trainer.current_epoch)
    if run_dir.preempted.exists():
        log.warning("Preempted: %s", run_dir.preempted.read_text().strip())
        return True
    if run_dir.pruned.exists():  # stopped by the study's pruner: the sweeper tells PRUNED
        log.info("Optuna trial %s", run_dir.pruned.read_text().strip())
        if trainer.is_global_zero:
            run_dir.write_metrics({**metrics, "pruned": 1.0})
        return True
    return False
