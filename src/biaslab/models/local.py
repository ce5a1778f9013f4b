"""Locally connected layers: a convolution's receptive field without its weight sharing (B.3).

Every output position has its own k x k x C_in filter, so the layer has H_out * W_out times a
convolution's weights; tying them (the same filter everywhere) gives the convolution back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from biaslab.models.cnn import CNN


class LocallyConnected2d(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H_out, W_out), padding k // 2 as the convs here.

    weight (H_out*W_out, C_out, C_in*k*k): one filter per output position; bias (C_out, H_out,
    W_out) or None."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        hw: tuple[int, int],
        stride: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or stride < 1 or min(hw) < 1:
            raise ValueError(
                f"kernel_size={kernel_size} and stride={stride} must be >= 1 and the input {hw} "
                "non-empty for a locally connected layer."
            )
        self.c_in, self.c_out, self.k, self.stride, self.hw = c_in, c_out, kernel_size, stride, hw
        self.out_hw = tuple((n + 2 * (kernel_size // 2) - kernel_size) // stride + 1 for n in hw)
        positions = self.out_hw[0] * self.out_hw[1]
        fan_in = c_in * kernel_size**2
        bound = 1 / fan_in**0.5  # the same init as nn.Conv2d's (kaiming_uniform, a=sqrt(5))
        self.weight = nn.Parameter(torch.empty(positions, c_out, fan_in).uniform_(-bound, bound))
        self.bias = (
            nn.Parameter(torch.empty(c_out, *self.out_hw).uniform_(-bound, bound)) if bias else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.hw:
            raise ValueError(
                f"model=local: this layer was built for {self.hw[0]}x{self.hw[1]} inputs but got "
                f"{x.shape[-2]}x{x.shape[-1]}; a locally connected net has a fixed input size."
            )
        patches = F.unfold(x, self.k, padding=self.k // 2, stride=self.stride)  # (B, C*k*k, L)
        out = torch.einsum("bfl,lof->bol", patches, self.weight)  # (B, C_out, L)
        out = out.reshape(x.shape[0], self.c_out, *self.out_hw)
        return out + self.bias if self.bias is not None else out

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, hw: tuple[int, int]) -> LocallyConnected2d:
        """The layer with `conv`'s filter copied to every position (tied): equal to `conv`."""
        k, stride = conv.kernel_size[0], conv.stride[0]
        layer = cls(conv.in_channels, conv.out_channels, k, hw, stride, conv.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(conv.weight.flatten(1).expand_as(layer.weight))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias.view(-1, 1, 1).expand_as(layer.bias))
        return layer


class LocalCNN(CNN):
    """`model=local`: the CNN's architecture (same stages, kernel, downsampling, options) with
    every convolution replaced by a locally connected layer. (B, C, H, W) -> (B, C', H', W')."""

    def conv(self, c_in: int, c_out: int, k: int, stride: int, bias: bool, hw: tuple[int, int]):
        return LocallyConnected2d(c_in, c_out, k, hw, stride, bias)
