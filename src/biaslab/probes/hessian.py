"""The Hessian probe: extreme eigenvalues of the training loss at chosen epochs (Lanczos)."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from biaslab.probes.base import Probe
from biaslab.probes.curvature import loss_curvature


class HessianProbe(Probe):
    """At chosen epochs: the largest and smallest Hessian eigenvalue of the training loss on a
    fixed batch (Lanczos on Hessian-vector products), the gradient norm, and a verdict: near a
    critical point or not, saddle (a negative eigenvalue) or local minimum. Attention runs its
    exact path inside `backbone.capture_attention()`, which has a double backward everywhere."""

    def __init__(
        self,
        every_n_epochs: int = 10,
        at_end: bool = True,
        k: int = 16,
        batch_size: int = 256,
        grad_tol: float = 1e-2,
    ) -> None:
        self.every_n_epochs, self.at_end, self.k = every_n_epochs, at_end, k
        self.batch_size, self.grad_tol = batch_size, grad_tol
        self.rows: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        last = epoch == trainer.max_epochs - 1
        if (self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0) or (
            self.at_end and last
        ):
            self.probe(trainer, pl_module)

    def probe(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dm = trainer.datamodule
        x, y = dm.splits["train"] if hasattr(dm, "splits") else next(iter(dm.train_dataloader()))
        x, y = x[: self.batch_size].to(pl_module.device), y[: self.batch_size].to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()  # fixed batch-norm statistics: one well-defined function of the weights
        with torch.enable_grad(), pl_module.net.backbone.capture_attention():
            c = loss_curvature(
                lambda: pl_module.criterion(pl_module(x), y),
                list(pl_module.parameters()),
                k=self.k,
                grad_tol=self.grad_tol,
            )
        pl_module.train(was_training)
        row = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "largest": c.largest,
            "smallest": c.smallest,
            "grad_norm": c.grad_norm,
            "positive_ratio": c.positive_ratio,
            "near_critical": c.near_critical,
            "kind": c.kind,
        }
        self.rows.append(row)
        pl_module.log_dict(
            {
                f"hessian/{k}": float(row[k])
                for k in ("largest", "smallest", "grad_norm", "positive_ratio")
            }
        )
        if trainer.is_global_zero:
            from biaslab.probes.base import write_csv

            write_csv(self.out_dir(trainer) / "hessian.csv", self.rows)
