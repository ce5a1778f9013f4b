"""Report the validation metric to an Optuna trial every epoch and stop when it is pruned."""

from __future__ import annotations

from pathlib import Path

import lightning as L


class OptunaPruning(L.Callback):
    """Rank 0 reports `monitor` at each validation end as the trial's intermediate value and asks
    the study's pruner; every rank learns the answer (a broadcast), so DDP ranks stop together.
    A pruned run writes the text file `marker` (the sweeper reads it) and stops at the end of
    this epoch."""

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_id: int,
        monitor: str,
        marker: str | Path,
        pruner: dict | None = None,
    ) -> None:
        self.storage, self.study_name, self.trial_id = storage, study_name, trial_id
        self.pruner = pruner  # the sweeper's pruner config: a study does not store its pruner
        self.monitor, self.marker = monitor, Path(marker)
        self.trial = None

    def _trial(self):
        if self.trial is None:
            import optuna
            from hydra.utils import instantiate

            pruner = instantiate(self.pruner) if self.pruner else optuna.pruners.NopPruner()
            study = optuna.load_study(
                study_name=self.study_name, storage=self.storage, pruner=pruner
            )
            self.trial = optuna.trial.Trial(study, self.trial_id)
        return self.trial

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        if trainer.is_global_zero:
            metrics = trainer.callback_metrics
            key = self.monitor if self.monitor in metrics else "val/acc"
            if key in metrics:
                trial = self._trial()
                trial.report(float(metrics[key]), step=trainer.current_epoch)
                prune = trial.should_prune()
        prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            if trainer.is_global_zero:
                self.marker.write_text(f"pruned at epoch {trainer.current_epoch}\n")
            trainer.should_stop = True
