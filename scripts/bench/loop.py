"""Training steps/s: biaslab's Lightning step vs a hand-written PyTorch loop, side by side.

Same network (the default CNN), data (digits, in memory), optimizer (AdamW), schedule
(warm-up + cosine) and batch size. Epoch 0 is warm-up; steps/s are timed over the following
epochs; median of `--repeats` runs. Lightning runs with biaslab's default logging (metrics
logged every epoch, CSV logger, LR monitor, rich progress bar) and with logging off, both with
the NaN guard and preemption callbacks every biaslab run has; a bare LightningModule around the
same network (no metrics, no callbacks) shows what Lightning's loop alone costs.

    python scripts/bench/loop.py [--epochs 21] [--repeats 5] [--batch 64]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

import biaslab.utils.resolvers  # noqa: F401
from biaslab.callbacks.reliability import FiniteLossGuard, Preemption
from biaslab.data.digits import DigitsDataModule
from biaslab.module import Classifier

CONF = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "conf")


def load_config(batch: int):
    with initialize_config_dir(CONF, version_base="1.3"):
        cfg = compose("train", overrides=[f"data.batch_size={batch}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = tempfile.mkdtemp()
        cfg.hydra.runtime.output_dir = cfg.paths.output_dir
    HydraConfig.instance().set_config(cfg)
    return cfg


class StepTimer(L.Callback):
    def __init__(self) -> None:
        self.start, self.steps = 0.0, 0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            self.start, self.steps = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, *args) -> None:
        self.steps += trainer.current_epoch >= 1

    def rate(self) -> float:
        return self.steps / (time.perf_counter() - self.start)


class Bare(L.LightningModule):
    """The least a LightningModule can be: biaslab's network, loss, optimizer and schedule."""

    def __init__(self, classifier: Classifier, module_cfg: dict) -> None:
        super().__init__()
        self.classifier, self.module_cfg = classifier, module_cfg

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        return self.classifier.criterion(self.classifier(inputs), targets)

    def configure_optimizers(self):
        optimizer = instantiate(self.module_cfg["optimizer"])(params=self.parameters())
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = instantiate(self.module_cfg["scheduler"])(optimizer, total_steps=total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def lightning_rate(cfg, batch: int, epochs: int, logging: bool, bare: bool = False) -> float:
    module_cfg = OmegaConf.to_container(cfg.module, resolve=True)
    L.seed_everything(0, verbose=False)
    model = Classifier(**{k: v for k, v in module_cfg.items() if k != "_target_"})
    if bare:
        model = Bare(model, module_cfg)
    dm = DigitsDataModule(num_classes=10, input_shape=(1, 8, 8), batch_size=batch)
    timer = StepTimer()
    callbacks: list[L.Callback] = [timer]
    if not bare:  # every biaslab run has these two (pipeline.py)
        callbacks += [FiniteLossGuard(), Preemption(tempfile.mkdtemp())]
    if logging:  # biaslab's default callbacks (but checkpoints) with a CSV logger
        from lightning.pytorch.loggers import CSVLogger

        callbacks += [instantiate(cfg.callbacks[k]) for k in ("lr_monitor", "progress_bar")]
        logger = CSVLogger(tempfile.mkdtemp(), name="bench")
    else:
        logger = False
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=logger,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=logging,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(model, datamodule=dm)
    return timer.rate()


def plain_rate(cfg, batch: int, epochs: int) -> float:
    module_cfg = OmegaConf.to_container(cfg.module, resolve=True)
    torch.manual_seed(0)
    model = Classifier(**{k: v for k, v in module_cfg.items() if k != "_target_"})
    dm = DigitsDataModule(num_classes=10, input_shape=(1, 8, 8), batch_size=batch)
    loader = dm.train_dataloader()
    optimizer = instantiate(module_cfg["optimizer"])(params=model.parameters())
    scheduler = instantiate(module_cfg["scheduler"])(optimizer, total_steps=len(loader) * epochs)
    model.train()
    start, steps = 0.0, 0
    for epoch in range(epochs):
        if epoch == 1:
            start, steps = time.perf_counter(), 0
        loader.sampler.set_epoch(epoch)
        for x, y in loader:
            loss = model.criterion(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += epoch >= 1
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    cfg = load_config(args.batch)
    runs: dict[str, list[float]] = {
        "plain PyTorch loop": [],
        "bare LightningModule": [],
        "biaslab, logging off": [],
        "biaslab, default logging": [],
    }
    for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
        runs["plain PyTorch loop"].append(plain_rate(cfg, args.batch, args.epochs))
        runs["bare LightningModule"].append(
            lightning_rate(cfg, args.batch, args.epochs, False, bare=True)
        )
        runs["biaslab, logging off"].append(lightning_rate(cfg, args.batch, args.epochs, False))
        runs["biaslab, default logging"].append(lightning_rate(cfg, args.batch, args.epochs, True))
    base = statistics.median(runs["plain PyTorch loop"])
    print(
        f"digits CNN, batch {args.batch}, {args.epochs - 1} timed epochs, median of {args.repeats}, "
        f"torch threads {torch.get_num_threads()}"
    )
    for name, rates in runs.items():
        rate = statistics.median(rates)
        extra_ms = 1000 * (1 / rate - 1 / base)
        print(
            f"{name:26s} {rate:7.1f} steps/s  {1000 / rate:5.2f} ms/step  "
            f"{extra_ms:+5.2f} ms  {100 * (base / rate - 1):+6.1f}% time per step vs plain"
        )


if __name__ == "__main__":
    main()
