"""The CNN backbone: stages of (conv3x3 [+ BN] + act) x n, with a downsample between stages.

`downsample` is the lecture's pooling ablation: `maxpool`, `avgpool`, `stride` (the first conv
of the next stage has stride 2) or `none` (AlphaGo keeps the full board). `residual` adds an
identity path around every conv after a stage's first (He et al. 2016): the same parameters,
x -> act(x + BN(conv(x))), so depth can be studied plain vs residual (A.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.backbone import Backbone, require_image
from biaslab.models.checks import check_rates, check_sizes

DOWNSAMPLE = ("maxpool", "avgpool", "stride", "none")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


class Residual(nn.Module):
    """x -> act(x + body(x)), any shape that body keeps: (B, C, H, W) or (B, D)."""

    def __init__(self, body: nn.Module, act: nn.Module) -> None:
        super().__init__()
        self.body, self.act = body, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class CNN(Backbone):
    """(B, C, H, W) image -> (B, C_last, H', W') feature map.

    H' = H / 2**(len(channels)-1) for every `downsample` except `none`.
    """

    emits = "grid"
    modalities = ("image",)

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
        residual: bool = False,
    ) -> None:
        super().__init__()
        if downsample not in DOWNSAMPLE:
            raise ValueError(f"downsample={downsample!r}: choose one of {DOWNSAMPLE}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: choose one of {tuple(ACTIVATIONS)}.")
        if convs_per_stage < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"convs_per_stage={convs_per_stage} must be >= 1 and kernel_size="
                f"{kernel_size} odd (the output keeps the input's size with padding k // 2)."
            )
        if not channels:
            raise ValueError("channels=[] has no stage; give at least one width such as [16, 32].")
        check_sizes(**{f"channels[{i}]": c for i, c in enumerate(channels)})
        check_rates(dropout=dropout)
        self.downsample = downsample
        layers: list[nn.Module] = []
        c_in, h, w = require_image(input_shape, "cnn")
        for stage, c_out in enumerate(channels):
            for i in range(convs_per_stage):
                stride = 2 if (stage > 0 and i == 0 and downsample == "stride") else 1
                conv = self.conv(c_in, c_out, kernel_size, stride, not batch_norm, (h, w))
                h, w = (h + stride - 1) // stride, (w + stride - 1) // stride
                body = nn.Sequential(conv, *([nn.BatchNorm2d(c_out)] if batch_norm else []))
                if residual and i > 0:
                    layers.append(Residual(body, ACTIVATIONS[activation]()))
                else:
                    layers += [*body, ACTIVATIONS[activation]()]
                c_in = c_out
            if stage < len(channels) - 1 and downsample in ("maxpool", "avgpool"):
                layers.append(nn.MaxPool2d(2) if downsample == "maxpool" else nn.AvgPool2d(2))
                h, w = h // 2, w // 2
            if dropout:
                layers.append(nn.Dropout2d(dropout))
        self.features = nn.Sequential(*layers)
        self.num_features = c_in

    def conv(self, c_in: int, c_out: int, k: int, stride: int, bias: bool, hw: tuple[int, int]):
        """The layer a unit of this net is: a k x k convolution (shared weights). `hw` is the
        input's size, which a layer without weight sharing needs (`LocalCNN`)."""
        return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)
