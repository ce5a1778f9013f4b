"""Probes: callbacks that turn the lecture's claims into numbers and pictures.

Each writes PNG and CSV files under `<run dir>/probes/` and, when a W&B logger is attached,
logs the same as images and tables. Enable with the `probes` config group.
"""

from __future__ import annotations

import csv
import math
import sys
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch

from biaslab.callbacks.hessian import loss_curvature
from biaslab.data.augment import affine, random_crop
from biaslab.models.attention import MultiHeadSelfAttention


def probe_dir(trainer: L.Trainer) -> Path:
    path = Path(trainer.default_root_dir) / "probes"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _wandb(trainer: L.Trainer):
    from lightning.pytorch.loggers import WandbLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)


def publish(
    trainer: L.Trainer, key: str, rows: list[dict[str, Any]] | None = None, png: Path | None = None
) -> None:
    """Log a table and/or an image to W&B (rank zero, if a W&B logger is attached)."""
    logger = _wandb(trainer)
    if logger is None or not trainer.is_global_zero:
        return
    if rows:
        logger.log_table(key=key, columns=list(rows[0]), data=[list(r.values()) for r in rows])
    if png is not None:
        logger.log_image(key=f"{key}_plot", images=[str(png)])


def fixed_batch(trainer: L.Trainer, pl_module: L.LightningModule, split: str, n: int):
    """The first `n` examples of a split, on the module's device (the same every call)."""
    dm = trainer.datamodule
    loader = dm.val_dataloader() if split == "val" else dm.test_dataloader()
    inputs, targets = next(iter(loader))
    return inputs[:n].to(pl_module.device), targets[:n].to(pl_module.device)


def _import_plotting():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plt():
    if _preload is not None and _preload is not threading.current_thread():
        _preload.join()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_preload: threading.Thread | None = None


def preload_plotting() -> None:
    """Import matplotlib (~0.5 s) in a background thread while training runs, so plots drawn
    at the end of fit cost only their drawing."""
    global _preload
    if _preload is None and "matplotlib.pyplot" not in sys.modules:
        _preload = threading.Thread(target=_import_plotting, daemon=True)
        _preload.start()


class Probe(L.Callback):
    """Base: starts the background import of the plotting library when fit starts."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preload_plotting()


class AttentionMaps(Probe):
    """Attention weights per layer and head on a fixed batch (the naive path), at the end of fit.

    Images: the attention each patch receives (averaged over queries) laid over the input;
    sequences: token x token matrices. CSV: per layer and head, the mean attention entropy and
    the mean distance (in tokens) between a query and what it attends to.
    """

    def __init__(self, n_examples: int = 4) -> None:
        self.n_examples = n_examples

    @torch.no_grad()
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        attns = [m for m in pl_module.modules() if isinstance(m, MultiHeadSelfAttention)]
        if not attns or not trainer.is_global_zero:
            return
        inputs, _ = fixed_batch(trainer, pl_module, "val", self.n_examples)
        was_training = pl_module.training
        pl_module.eval()
        for m in attns:
            m.store_weights = True
        pl_module(inputs)
        maps = [m.attn_weights for m in attns]  # each (B, H, N, N)
        for m in attns:
            m.store_weights, m.attn_weights = False, None
        pl_module.train(was_training)
        rows = []
        for layer, w in enumerate(maps):
            n = w.shape[-1]
            pos = torch.arange(n, device=w.device, dtype=w.dtype)
            distance = (w * (pos[None, :] - pos[:, None]).abs()).sum(-1).mean(dim=(0, 2))
            entropy = -(w * w.clamp_min(1e-12).log()).sum(-1).mean(dim=(0, 2))
            for head in range(w.shape[1]):
                rows.append({"layer": layer, "head": head, "tokens": n,
                             "mean_distance": float(distance[head]), "entropy": float(entropy[head])})  # fmt: skip
        out = probe_dir(trainer)
        write_csv(out / "attention.csv", rows)
        png = out / "attention.png"
        self._plot(maps, inputs, png, getattr(pl_module.net.backbone, "grid", None))
        torch.save([w.cpu() for w in maps], out / "attention_maps.pt")
        publish(trainer, "probes/attention", rows, png)

    @staticmethod
    def _plot(maps, inputs, png: Path, grid) -> None:
        plt = _plt()
        layers, heads = len(maps), maps[0].shape[1]
        fig, axes = plt.subplots(layers, heads, figsize=(2 * heads, 2 * layers), squeeze=False)
        for layer, w in enumerate(maps):
            for head in range(heads):
                ax = axes[layer][head]
                weights = w[0, head].float().cpu()
                n = weights.shape[-1]
                if inputs.dim() == 4 and grid is not None and n >= grid[0] * grid[1]:
                    received = weights.mean(0)[-grid[0] * grid[1] :].reshape(grid)  # patch tokens
                    image = inputs[0].float().mean(0).cpu()
                    ax.imshow(image, cmap="gray")
                    up = torch.nn.functional.interpolate(
                        received[None, None], size=image.shape, mode="nearest"
                    )[0, 0]
                    ax.imshow(up, cmap="inferno", alpha=0.5)
                else:
                    ax.imshow(weights, cmap="viridis")
                ax.set_title(f"L{layer} H{head}", fontsize=7)
                ax.axis("off")
        fig.tight_layout()
        fig.savefig(png, dpi=80)
        plt.close(fig)


class PESimilarity(Probe):
    """Cosine similarity between the positional vectors, as built (fit start) and as trained."""

    def __init__(self) -> None:
        self.at_start: torch.Tensor | None = None

    def _table(self, pl_module: L.LightningModule) -> torch.Tensor | None:
        encoder = getattr(pl_module.net.backbone, "encoder", None)
        pe = getattr(encoder, "pe", None)
        if pe is None or getattr(pe, "rotary", False):
            return None
        n = (
            math.prod(getattr(pl_module.net.backbone, "grid", (0,)))
            or pl_module.hparams.input_shape[0]
        )
        dim = pl_module.net.backbone.num_features
        with torch.no_grad():
            table = pe(torch.zeros(1, n, dim, device=pl_module.device))[0]
        return torch.nn.functional.cosine_similarity(table[:, None], table[None], dim=-1)

    def _save(self, trainer: L.Trainer, sim: torch.Tensor | None, when: str) -> None:
        if sim is None or not trainer.is_global_zero:
            return
        out = probe_dir(trainer)
        rows = [
            {"i": i, "j": j, "cosine": float(sim[i, j])}
            for i in range(len(sim))
            for j in range(len(sim))
        ]
        write_csv(out / f"pe_similarity_{when}.csv", rows)
        plt = _plt()
        fig, ax = plt.subplots(figsize=(4, 4))
        im = ax.imshow(sim.cpu(), cmap="coolwarm", vmin=-1, vmax=1)
        ax.set_title(f"PE cosine similarity ({when})")
        fig.colorbar(im)
        png = out / f"pe_similarity_{when}.png"
        fig.savefig(png, dpi=80)
        plt.close(fig)
        publish(trainer, f"probes/pe_similarity_{when}", None, png)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preload_plotting()
        self.at_start = self._table(pl_module)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, self.at_start, "start")
        self._save(trainer, self._table(pl_module), "end")


def transforms_for(inputs: torch.Tensor, permutable: bool) -> dict[str, Any]:
    """The lecture's nuisance transforms: rotation, scale, translation, token permutation."""
    b = inputs.shape[0]
    out: dict[str, Any] = {}
    if inputs.dim() == 4:
        for deg in (15, 30, 45):
            for sign in (1, -1):
                out[f"rotate {sign * deg:+d}"] = lambda x, d=sign * deg: affine(
                    x, torch.full((b,), float(d), device=x.device), torch.ones(b, device=x.device)
                )
        for s in (0.8, 1.2):
            out[f"scale {s}"] = lambda x, s=s: affine(
                x, torch.zeros(b, device=x.device), torch.full((b,), s, device=x.device)
            )
        out["translate 1px"] = lambda x: random_crop(
            x, 1, generator=torch.Generator(device=x.device).manual_seed(0)
        )
    if permutable:
        out["permute tokens"] = "permute"
    return out


class Invariance(Probe):
    """Test accuracy, and agreement with the untransformed predictions, under rotation
    (±15/30/45°), scale (0.8/1.2), translation and — for attention models — token permutation."""

    def __init__(self, n_examples: int = 1024) -> None:
        self.n_examples = n_examples

    @torch.no_grad()
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        rows = invariance_table(
            pl_module, *fixed_batch(trainer, pl_module, "test", self.n_examples)
        )
        for r in rows:  # into the run's final metrics (metrics.json), for sweep reports
            trainer.callback_metrics[f"invariance/{r['transform']}"] = torch.tensor(r["accuracy"])
        out = probe_dir(trainer)
        write_csv(out / "invariance.csv", rows)
        plt = _plt()
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh([r["transform"] for r in rows], [r["accuracy"] for r in rows])
        ax.set_xlim(0, 1)
        ax.set_xlabel("test accuracy")
        fig.tight_layout()
        png = out / "invariance.png"
        fig.savefig(png, dpi=80)
        plt.close(fig)
        publish(trainer, "probes/invariance", rows, png)


@torch.no_grad()
def invariance_table(
    model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> list[dict[str, Any]]:
    """Rows of (transform, accuracy, agreement with the identity's predictions)."""
    was_training = model.training
    model.eval()
    net = model.net if hasattr(model, "net") else model
    backbone = getattr(net, "backbone", None)
    permutable = hasattr(backbone, "embed") and hasattr(backbone, "encoder")
    base = model(inputs).argmax(-1)
    rows = [
        {
            "transform": "identity",
            "accuracy": float((base == targets).float().mean()),
            "agreement": 1.0,
        }
    ]
    for name, fn in transforms_for(inputs, permutable).items():
        if fn == "permute":
            tokens = backbone.embed(inputs)
            perm = torch.randperm(tokens.shape[1], generator=torch.Generator().manual_seed(0)).to(
                tokens.device
            )
            pred = net.forward_head(backbone.encoder(tokens[:, perm])).argmax(-1)
        else:
            pred = model(fn(inputs)).argmax(-1)
        rows.append({"transform": name, "accuracy": float((pred == targets).float().mean()),
                     "agreement": float((pred == base).float().mean())})  # fmt: skip
    model.train(was_training)
    return rows


class HessianProbe(Probe):
    """At chosen epochs: the largest and smallest Hessian eigenvalue of the training loss on a
    fixed batch (Lanczos on Hessian-vector products), the gradient norm, and a verdict: near a
    critical point or not, saddle (a negative eigenvalue) or local minimum."""

    def __init__(self, every_n_epochs: int = 10, at_end: bool = True, k: int = 16, batch_size: int = 256,
                 grad_tol: float = 1e-2) -> None:  # fmt: skip
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
        attns = [m for m in pl_module.modules() if isinstance(m, MultiHeadSelfAttention)]
        for m in attns:
            m.force_naive = True  # Hessian-vector products need a double backward
        with torch.enable_grad():
            c = loss_curvature(lambda: pl_module.criterion(pl_module(x), y), list(pl_module.parameters()),
                               k=self.k, grad_tol=self.grad_tol)  # fmt: skip
        for m in attns:
            m.force_naive = False
        pl_module.train(was_training)
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step, "largest": c.largest,
               "smallest": c.smallest, "grad_norm": c.grad_norm, "positive_ratio": c.positive_ratio,
               "near_critical": c.near_critical, "kind": c.kind}  # fmt: skip
        self.rows.append(row)
        pl_module.log_dict(
            {
                f"hessian/{k}": float(row[k])
                for k in ("largest", "smallest", "grad_norm", "positive_ratio")
            }
        )
        if trainer.is_global_zero:
            write_csv(probe_dir(trainer) / "hessian.csv", self.rows)


class Diagnosis(Probe):
    """The lecture's flow after a run: high training loss -> model bias or optimisation; low
    training but high validation loss -> overfitting (or mismatch); else fine."""

    def __init__(self, train_acc_ok: float = 0.9, gap: float = 0.05) -> None:
        self.train_acc_ok, self.gap = train_acc_ok, gap

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        verdict = diagnose(m.get("train/acc"), m.get("val/acc"), m.get("train/loss"), m.get("val/loss"),
                           self.train_acc_ok, self.gap)  # fmt: skip
        if trainer.is_global_zero:
            (probe_dir(trainer) / "diagnosis.txt").write_text(verdict + "\n")
            print(f"Diagnosis: {verdict}")
            logger = _wandb(trainer)
            if logger is not None:
                logger.experiment.summary["diagnosis"] = verdict


def diagnose(
    train_acc, val_acc, train_loss, val_loss, train_acc_ok: float = 0.9, gap: float = 0.05
) -> str:
    if train_acc is None or val_acc is None:
        return "not enough metrics to diagnose"
    if train_acc < train_acc_ok:
        return (f"high training loss ({train_loss:.3g}, train acc {train_acc:.3f}): model bias (a "
                "bigger model) or an optimisation problem (compare a shallower model: if it trains "
                "better, it is optimisation)")  # fmt: skip
    if train_acc - val_acc > gap:
        return (f"low training loss but validation accuracy {val_acc:.3f} trails training {train_acc:.3f}: "
                "overfitting (more data, augmentation, regularisation) or a train/val mismatch")  # fmt: skip
    return f"fits and generalises (train acc {train_acc:.3f}, val acc {val_acc:.3f})"


def diagnose_depth(rows: list[dict[str, float]]) -> list[str]:
    """Over runs of several depths ({'depth', 'train_loss'}): a deeper model with a higher
    training loss than a shallower one is an optimisation problem (the 20- vs 56-layer case)."""
    flags = []
    ordered = sorted(rows, key=lambda r: r["depth"])
    for shallow in ordered:
        for deep in ordered:
            if deep["depth"] > shallow["depth"] and deep["train_loss"] > shallow["train_loss"]:
                flags.append(f"depth {deep['depth']} trains worse than depth {shallow['depth']} "
                             f"({deep['train_loss']:.3g} > {shallow['train_loss']:.3g}): an optimisation problem, "
                             "not model bias")  # fmt: skip
    return flags


class ReceptiveField(Probe):
    """The CNN's receptive field per layer: analytic, and measured from input gradients."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from biaslab.callbacks.receptive_field import analytic, measured

        preload_plotting()
        features = getattr(pl_module.net.backbone, "features", None)
        if features is None or not trainer.is_global_zero:
            return
        rows = analytic(features)
        rows[-1]["measured_rf"] = measured(features, pl_module.hparams.input_shape[0])
        for r in rows[:-1]:
            r["measured_rf"] = ""
        write_csv(probe_dir(trainer) / "receptive_field.csv", rows)
        publish(trainer, "probes/receptive_field", rows)
