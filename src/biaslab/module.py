"""The one LightningModule: backbone -> pooling -> head, loss, metrics, optimiser, schedule.

Every constructor argument is a plain dict / list / number / string (the resolved config), so
hparams pickle nothing but builtins: checkpoints load with torch's `weights_only=True`, and
`Classifier.load_from_checkpoint(path)` needs no extra arguments. `load_from_checkpoint` runs
`__init__`, whose first act is `biaslab.schema.check_parts`: every `_target_` of the hparams must
be exactly one that the command's config sources (conf/, hydra.searchpath) or its command line
name, so a checkpoint that names anything else is refused before anything is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from biaslab.losses import per_example
from biaslab.models.net import build_net
from biaslab.schema import check_parts


def _plain(value: Any) -> Any:
    """DictConfig/ListConfig -> builtin containers (resolved); anything else unchanged."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


class Classifier(L.LightningModule):
    """Image, sequence or graph classifier. Batches are (inputs, targets); targets (B,) ids, (B, K)
    soft, or (B, N) one label per token (`pooling=tokens`: sequence labelling, node classes)."""

    def __init__(
        self,
        backbone: dict[str, Any],
        pooling: dict[str, Any],
        head: dict[str, Any],
        loss: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any],
        num_classes: int,
        input_shape: Sequence[int],
        vocab_size: int | None = None,
        compile: bool = False,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        hparams = {k: _plain(v) for k, v in locals().items() if k not in ("self", "__class__")}
        check_parts(hparams, "the model's config")  # before any part is built; checkpoints too
        smoothing = hparams["loss"].get("label_smoothing", 0.0) or 0.0
        if not 0.0 <= float(smoothing) <= 1.0:
            raise ValueError(f"loss.label_smoothing={smoothing} must lie in [0, 1]; pass 0.1.")
        self.save_hyperparameters(hparams, logger=False)  # the loggers get the whole config once
        hp = self.hparams
        self.net = build_net(
            hp.backbone, hp.pooling, hp.head, num_classes, hp.input_shape, vocab_size
        )
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.criterion = instantiate(hp.loss)
        # training statistics: (sum of loss x n, correct, n), kept as one tensor on the device and
        # logged once per epoch: per-step metric objects and log calls cost more than the step
        self.register_buffer("train_stats", torch.zeros(3), persistent=False)
        self.train_epoch: dict[str, float] = {}  # the last summary (summarize_train_epoch)
        self._train_epoch_logged = True
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # kept in checkpoints, so a resumed run remembers it

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.net(inputs)

    def configure_model(self) -> None:
        if self.hparams.compile and not isinstance(self.net, torch._dynamo.OptimizedModule):
            self.net = torch.compile(self.net)

    def step(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The one step of train, val and test: (loss, logits, hard targets (B,))."""
        inputs, targets = batch
        logits, targets = per_example(self(inputs), targets)
        loss = self.criterion(logits, targets)
        hard_targets = targets.argmax(dim=-1) if targets.dim() == 2 else targets
        return loss, logits, hard_targets

    def _eval_step(self, batch, loss_metric: MeanMetric, acc_metric: MulticlassAccuracy) -> None:
        loss, logits, hard_targets = self.step(batch)
        loss_metric.update(loss.detach())
        acc_metric.update(logits.detach(), hard_targets)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss, logits, hard_targets = self.step(batch)
        with torch.no_grad():
            n = torch.full((), float(len(hard_targets)), device=loss.device)  # a fill: no host copy
            correct = (logits.argmax(dim=-1) == hard_targets).sum()
            self.train_stats += torch.stack([loss.detach() * n, correct.float(), n])
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """At the epoch's last batch, sum up the epoch's train loss and accuracy: before the
        epoch-end validation and checkpoint, so the history row written with that checkpoint
        is complete."""
        if self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.summarize_train_epoch()
            self._log_train_epoch()

    def on_train_epoch_end(self) -> None:
        self.summarize_train_epoch()  # an epoch cut short (max_steps, a stop) reports its part
        self._log_train_epoch()

    def summarize_train_epoch(self) -> dict[str, float]:
        """`train/loss` and `train/acc` of the steps since the last summary, kept in
        `self.train_epoch` (a collective under DDP: every rank calls it; EpochHistory does
        too when an epoch ends early)."""
        stats = self.trainer.strategy.reduce(self.train_stats, reduce_op="sum")
        if stats[2] > 0:
            loss, acc = float(stats[0] / stats[2]), float(stats[1] / stats[2])
            self.train_epoch = {"train/loss": loss, "train/acc": acc}
            self._train_epoch_logged = False
        self.train_stats.zero_()
        return self.train_epoch

    def _log_train_epoch(self) -> None:
        if not self._train_epoch_logged and self.train_epoch:
            for key, value in self.train_epoch.items():
                self.log(key, value, on_step=False, on_epoch=True, prog_bar=key == "train/loss")
            self._train_epoch_logged = True

    def on_train_start(self) -> None:
        if self.trainer.global_step == 0:
            self.val_acc_best.reset()
        self.train_stats.zero_()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from biaslab.callbacks.reliability import rng_states

        checkpoint["rng_states"] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        from biaslab.callbacks.reliability import set_rng_states

        if "rng_states" in checkpoint:
            set_rng_states(checkpoint["rng_states"])

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_loss, self.val_acc)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True)

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_loss, self.test_acc)
        self.log("test/loss", self.test_loss, on_step=False, on_epoch=True)
        self.log("test/acc", self.test_acc, on_step=False, on_epoch=True)

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer)(params=self.parameters())
        total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = instantiate(self.hparams.scheduler)(optimizer, total_steps=total_steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "lr"},
        }
