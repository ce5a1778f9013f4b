"""Batched augmentation on the device: each op draws its randomness per sample.

Every op maps (B, C, H, W) -> (B, C, H, W) with no Python loop over samples, so it runs where
the batch already is. Mixup/CutMix use torchvision's own batch transforms and return soft
targets (B, K).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def random_crop(
    images: torch.Tensor, pad: int, flip: bool = False, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pad by `pad`, crop the original size at a per-sample random offset and, with `flip`,
    mirror half the samples left-right: one gather over the padded batch, no per-sample loop."""
    B, C, H, W = images.shape
    dev = images.device
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    Hp, Wp = H + 2 * pad, W + 2 * pad
    oy = torch.randint(0, 2 * pad + 1, (B, 1, 1), device=dev, generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (B, 1, 1), device=dev, generator=generator)
    cols = torch.arange(W, device=dev).view(1, 1, W).expand(B, 1, W)
    if flip:
        mirror = torch.rand(B, 1, 1, device=dev, generator=generator) < 0.5
        cols = torch.where(mirror, W - 1 - cols, cols)
    rows = torch.arange(H, device=dev).view(1, H, 1)
    index = ((oy + rows) * Wp + ox + cols).view(B, 1, H * W).expand(B, C, H * W)
    return padded.reshape(B, C, Hp * Wp).gather(2, index).view(B, C, H, W)


def random_flip(images: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability p."""
    flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < p
    return torch.where(flip, images.flip(-1), images)


class FlipCrop(nn.Module):
    """Pad + random crop + horizontal flip (the CIFAR recipe), per sample."""

    def __init__(self, pad: int = 4, flip: bool = True) -> None:
        super().__init__()
        self.pad, self.flip = pad, flip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return random_crop(images, self.pad, flip=self.flip)


class Translate(nn.Module):
    """Shift by up to `max_shift` pixels in each direction, per sample (no flip)."""

    def __init__(self, max_shift: int = 1) -> None:
        super().__init__()
        self.max_shift = max_shift

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return random_crop(images, self.max_shift)


def affine(images: torch.Tensor, degrees: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Rotate by `degrees` and zoom by `scale` (both (B,)) about the centre; zeros outside."""
    theta = torch.deg2rad(degrees)
    cos, sin = theta.cos() / scale, theta.sin() / scale
    zeros = torch.zeros_like(cos)
    matrix = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(matrix.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


class RotateScale(nn.Module):
    """Random rotation in [-degrees, degrees] and zoom in [scale_min, scale_max], per sample."""

    def __init__(self, degrees: float = 30.0, scale_min: float = 0.8, scale_max: float = 1.2):
        super().__init__()
        self.degrees, self.scale_min, self.scale_max = degrees, scale_min, scale_max

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        B, dev = images.shape[0], images.device
        degrees = (torch.rand(B, device=dev) * 2 - 1) * self.degrees
        log_lo, log_hi = math.log(self.scale_min), math.log(self.scale_max)
        scale = torch.exp(log_lo + torch.rand(B, device=dev) * (log_hi - log_lo))
        return affine(images, degrees, scale)


class BatchMix(nn.Module):
    """MixUp or CutMix through torchvision.transforms.v2: (B, C, H, W), (B,) -> images, (B, K)."""

    def __init__(self, kind: str = "mixup", alpha: float = 1.0, num_classes: int = 10) -> None:
        super().__init__()
        from torchvision.transforms import v2

        if kind not in ("mixup", "cutmix"):
            raise ValueError(f"augment.mix.kind={kind!r}: choose mixup or cutmix.")
        cls = v2.MixUp if kind == "mixup" else v2.CutMix
        self.mix = cls(alpha=alpha, num_classes=num_classes)

    def forward(self, images: torch.Tensor, targets: torch.Tensor):
        return self.mix(images, targets)
