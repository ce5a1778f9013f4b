"""The best-validation checkpoint, with ties going to the later epoch."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint


class LatestBestCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint replaces its best only on a strict improvement, so a tie on
    a discrete metric (accuracy on a small validation set) keeps the *earliest* epoch, often an
    under-trained one. Here an equal value also replaces it: ties go to the later epoch."""

    def check_monitor_top_k(self, trainer: L.Trainer, current: torch.Tensor | None = None) -> bool:
        if current is None:
            return False
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        monitor_op = {"min": torch.le, "max": torch.ge}[self.mode]
        better_or_equal = monitor_op(current, self.best_k_models[self.kth_best_model_path])
        return trainer.strategy.reduce_boolean_decision(bool(better_or_equal))
