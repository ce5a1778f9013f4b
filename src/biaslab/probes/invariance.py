"""Accuracy under the lecture's nuisance transforms, read through the backbone contract."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from biaslab.data.augment import affine, random_crop
from biaslab.probes.base import Probe, fixed_batch, pyplot


def transforms_for(inputs: torch.Tensor, permutable: bool) -> dict[str, Any]:
    """The lecture's nuisance transforms: rotation, scale, translation, token permutation. The
    rotations beyond ±30° and scales beyond 0.8-1.2 lie outside `augment=rotate_scale`'s range."""
    b = inputs.shape[0]
    out: dict[str, Any] = {}
    if inputs.dim() == 4:
        for deg in (15, 30, 45, 90):
            for sign in (1, -1):
                out[f"rotate {sign * deg:+d}"] = lambda x, d=sign * deg: affine(
                    x, torch.full((b,), float(d), device=x.device), torch.ones(b, device=x.device)
                )
        for s in (0.6, 0.8, 1.2, 1.4):
            out[f"scale {s}"] = lambda x, s=s: affine(
                x, torch.zeros(b, device=x.device), torch.full((b,), s, device=x.device)
            )
        out["translate 1px"] = lambda x: random_crop(
            x, 1, generator=torch.Generator(device=x.device).manual_seed(0)
        )
    if permutable:
        out["permute tokens"] = "permute"
    return out


@torch.no_grad()
def invariance_table(
    model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> list[dict[str, Any]]:
    """Rows of (transform, accuracy, agreement with the identity's predictions). Token
    permutation runs between `backbone.embed` and `backbone.encode` (permutable backbones)."""
    was_training = model.training
    model.eval()
    net = model.net if hasattr(model, "net") else model
    backbone = getattr(net, "backbone", None)  # any classifier works; permutation needs a Backbone
    base = model(inputs).argmax(-1)
    rows = [
        {
            "transform": "identity",
            "accuracy": float((base == targets).float().mean()),
            "agreement": 1.0,
        }
    ]
    for name, fn in transforms_for(inputs, getattr(backbone, "permutable", False)).items():
        if fn == "permute":
            tokens = backbone.embed(inputs)
            g = torch.Generator().manual_seed(0)
            perm = torch.randperm(tokens.shape[1], generator=g).to(tokens.device)
            pred = net.forward_head(backbone.encode(tokens[:, perm])).argmax(-1)
        else:
            pred = model(fn(inputs)).argmax(-1)
        rows.append(
            {
                "transform": name,
                "accuracy": float((pred == targets).float().mean()),
                "agreement": float((pred == base).float().mean()),
            }
        )
    model.train(was_training)
    return rows


class Invariance(Probe):
    """Test accuracy, and agreement with the untransformed predictions, under rotation
    (±15/30/45/90°), scale (0.6/0.8/1.2/1.4), translation and — for token models — token permutation."""

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
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh([r["transform"] for r in rows], [r["accuracy"] for r in rows])
        ax.set_xlim(0, 1)
        ax.set_xlabel("test accuracy")
        fig.tight_layout()
        self.save(trainer, "invariance", rows, fig)
