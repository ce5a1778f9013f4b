"""The lecture's diagnosis flow after a run, and its depth tell-tale over a sweep."""

from __future__ import annotations

import lightning as L

from biaslab.probes.base import Probe, wandb_logger


def diagnose(
    train_acc, val_acc, train_loss, val_loss, train_acc_ok: float = 0.9, gap: float = 0.05
) -> str:
    """High training loss -> model bias or optimisation; low training but high validation loss
    -> overfitting (or mismatch); else fine."""
    if train_acc is None or val_acc is None:
        return "not enough metrics to diagnose"
    if train_acc < train_acc_ok:
        return (
            f"high training loss ({train_loss:.3g}, train acc {train_acc:.3f}): model bias (a "
            "bigger model) or an optimisation problem (compare a shallower model: if it trains "
            "better, it is optimisation)"
        )
    if train_acc - val_acc > gap:
        return (
            f"low training loss but validation accuracy {val_acc:.3f} trails training {train_acc:.3f}: "
            "overfitting (more data, augmentation, regularisation) or a train/val mismatch"
        )
    return f"fits and generalises (train acc {train_acc:.3f}, val acc {val_acc:.3f})"


def diagnose_depth(rows: list[dict[str, float]]) -> list[str]:
    """Over runs of several depths ({'depth', 'train_loss'}): a deeper model with a higher
    training loss than a shallower one is an optimisation problem (the 20- vs 56-layer case)."""
    flags = []
    ordered = sorted(rows, key=lambda r: r["depth"])
    for shallow in ordered:
        for deep in ordered:
            if deep["depth"] > shallow["depth"] and deep["train_loss"] > shallow["train_loss"]:
                flags.append(
                    f"depth {deep['depth']} trains worse than depth {shallow['depth']} "
                    f"({deep['train_loss']:.3g} > {shallow['train_loss']:.3g}): an optimisation problem, "
                    "not model bias"
                )
    return flags


class Diagnosis(Probe):
    """Writes `probes/diagnosis.txt` (and the W&B summary's `diagnosis`) at the end of fit."""

    def __init__(self, train_acc_ok: float = 0.9, gap: float = 0.05) -> None:
        self.train_acc_ok, self.gap = train_acc_ok, gap

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        verdict = diagnose(
            m.get("train/acc"),
            m.get("val/acc"),
            m.get("train/loss"),
            m.get("val/loss"),
            self.train_acc_ok,
            self.gap,
        )
        if trainer.is_global_zero:
            (self.out_dir(trainer) / "diagnosis.txt").write_text(verdict + "\n")
            print(f"Diagnosis: {verdict}")
            logger = wandb_logger(trainer)
            if logger is not None:
                logger.experiment.summary["diagnosis"] = verdict
