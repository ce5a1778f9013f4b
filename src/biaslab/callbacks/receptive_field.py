"""Receptive field of a CNN: analytic per layer, and measured from input gradients."""

from __future__ import annotations

import copy

import torch
from torch import nn


def _geometry(layer: nn.Module) -> tuple[int, int, int] | None:
    """(kernel, stride, dilation) of a layer that moves the receptive field, else None."""
    if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):

        def one(v):
            return v[0] if isinstance(v, tuple) else v

        dilation = one(layer.dilation) if hasattr(layer, "dilation") else 1
        return one(layer.kernel_size), one(layer.stride), dilation
    return None


def analytic(features: nn.Sequential) -> list[dict[str, int | str]]:
    """Per layer: receptive field size r and jump j (input pixels between adjacent outputs).

    r_out = r_in + (k - 1) * d * j_in,  j_out = j_in * s.
    """
    rows, r, j = [], 1, 1
    for i, layer in enumerate(features):
        geo = _geometry(layer)
        if geo is None:
            continue
        k, s, d = geo
        r, j = r + (k - 1) * d * j, j * s
        rows.append(
            {"layer": i, "type": type(layer).__name__, "kernel": k, "stride": s, "rf": r, "jump": j}
        )
    return rows


def measured(features: nn.Sequential, in_channels: int, size: int = 64) -> int:
    """Side of the input region whose pixels affect the centre output unit, from gradients.

    Max-pooling routes gradient to one input per window and ReLUs zero some paths, so both are
    swapped for their geometric twins (average pooling, identity) and batch norm is frozen:
    what is left is the geometry the analytic count describes.
    """
    net = copy.deepcopy(features).eval()
    for name, layer in list(net.named_children()):
        if isinstance(layer, nn.MaxPool2d):
            setattr(net, name, nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding))
        elif not isinstance(layer, nn.Conv2d | nn.AvgPool2d | nn.BatchNorm2d):
            setattr(net, name, nn.Identity())
    for p in net.parameters():
        p.data = p.data.abs() + 0.1  # no cancellations between paths
    x = torch.zeros(1, in_channels, size, size, requires_grad=True)
    out = net(x)
    h, w = out.shape[-2:]
    out[0, :, h // 2, w // 2].sum().backward()
    support = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = support.any(dim=1).nonzero().flatten()
    return int(rows.max() - rows.min() + 1)
