"""Receptive field of a conv backbone: analytic per layer, and measured from input gradients."""

from __future__ import annotations

import copy

import lightning as L
import torch
from torch import nn

from biaslab.probes.base import Probe, preload_plotting


def _geometry(layer: nn.Module) -> tuple[int, int, int] | None:
    """(kernel, stride, dilation) of a layer that moves the receptive field, else None."""
    if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):

        def one(v):
            return v[0] if isinstance(v, tuple) else v

        dilation = one(layer.dilation) if hasattr(layer, "dilation") else 1
        return one(layer.kernel_size), one(layer.stride), dilation
    return None


def analytic(features: nn.Module) -> list[dict[str, int | str]]:
    """Per conv/pool layer (in registration order, which is forward order for a conv stack):
    receptive field size r and jump j (input pixels between adjacent outputs).

    r_out = r_in + (k - 1) * d * j_in,  j_out = j_in * s.
    """
    rows, r, j = [], 1, 1
    for i, layer in enumerate(m for m in features.modules() if not list(m.children())):
        geo = _geometry(layer)
        if geo is None:
            continue
        k, s, d = geo
        r, j = r + (k - 1) * d * j, j * s
        rows.append(
            {"layer": i, "type": type(layer).__name__, "kernel": k, "stride": s, "rf": r, "jump": j}
        )
    return rows


def measured(features: nn.Module, in_channels: int, size: int = 64) -> int:
    """Side of the input region whose pixels affect the centre output unit, from gradients.

    Max-pooling routes gradient to one input per window and ReLUs zero some paths, so both are
    swapped for their geometric twins (average pooling, identity) and batch norm is frozen:
    what is left is the geometry the analytic count describes.
    """
    net = copy.deepcopy(features).eval()
    for parent in list(net.modules()):
        for name, layer in list(parent.named_children()):
            if isinstance(layer, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding))
            elif not list(layer.children()) and not isinstance(
                layer, nn.Conv2d | nn.AvgPool2d | nn.BatchNorm2d
            ):
                setattr(parent, name, nn.Identity())
    for p in net.parameters():
        p.data = p.data.abs() + 0.1  # no cancellations between paths
    x = torch.zeros(1, in_channels, size, size, requires_grad=True)
    out = net(x)
    h, w = out.shape[-2:]
    out[0, :, h // 2, w // 2].sum().backward()
    support = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = support.any(dim=1).nonzero().flatten()
    return int(rows.max() - rows.min() + 1)


class ReceptiveField(Probe):
    """At fit start: the backbone's receptive field per conv/pool layer, analytic, and the last
    layer's measured from input gradients. For conv backbones (feature maps, no `token_grid`);
    skipped for the rest."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preload_plotting()
        backbone = pl_module.net.backbone
        rows = analytic(backbone)
        if backbone.token_grid is not None or not any(
            isinstance(m, nn.Conv2d) for m in backbone.modules()
        ):
            return
        rows[-1]["measured_rf"] = measured(backbone, pl_module.hparams.input_shape[0])
        for r in rows[:-1]:
            r["measured_rf"] = ""
        self.save(trainer, "receptive_field", rows)
