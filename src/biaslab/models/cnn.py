"""The CNN backbone: stages of (conv3x3 [+ BN] + act) x n, with a downsample between stages.

`downsample` is the lecture's pooling ablation: `maxpool`, `avgpool`, `stride` (the first conv
of the next stage has stride 2) or `none` (AlphaGo keeps the full board).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.backbone import Backbone, require_image

DOWNSAMPLE = ("maxpool", "avgpool", "stride", "none")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


def conv_block(c_in: int, c_out: int, kernel: int, stride: int, batch_norm: bool, act: str):
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(ACTIVATIONS[act]())
    return layers


class CNN(Backbone):
    """(B, C, H, W) image -> (B, C_last, H', W') feature map.

    H' = H / 2**(len(channels)-1) for every `downsample` except `none`.
    """

    poolings = ("mean", "max", "flatten", "attn")

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64),
        convs_per_stage: int = 2,
        kernel_size: int = 3,
        downsample: str = "maxpool",
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if downsample not in DOWNSAMPLE:
            raise ValueError(
                f"model.backbone.downsample={downsample!r}: choose one of {DOWNSAMPLE}."
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"model.backbone.activation={activation!r}: choose one of {tuple(ACTIVATIONS)}."
            )
        self.downsample = downsample
        layers: list[nn.Module] = []
        c_in = require_image(input_shape, "cnn")[0]
        for stage, c_out in enumerate(channels):
            for i in range(convs_per_stage):
                stride = 2 if (stage > 0 and i == 0 and downsample == "stride") else 1
                layers += conv_block(c_in, c_out, kernel_size, stride, batch_norm, activation)
                c_in = c_out
            if stage < len(channels) - 1 and downsample in ("maxpool", "avgpool"):
                layers.append(nn.MaxPool2d(2) if downsample == "maxpool" else nn.AvgPool2d(2))
            if dropout:
                layers.append(nn.Dropout2d(dropout))
        self.features = nn.Sequential(*layers)
        self.num_features = c_in

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)
