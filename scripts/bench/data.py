"""Samples/s: biaslab's on-device batched pipeline vs a DataLoader with per-sample transforms.v2.

Same data (CIFAR-shaped in-memory tensor), same augmentation (pad-4 random crop + horizontal
flip), same batch size; median of repeated epochs after a warm-up, printed as a ratio.

    python scripts/bench/data.py [--n 10000] [--batch 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, Dataset

from biaslab.data.augment import FlipCrop
from biaslab.data.base import TensorBatches


class PerSample(Dataset):
    """The usual way: index one image, transform it, let the DataLoader collate."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        from torchvision.transforms import v2

        self.images, self.labels = images, labels
        self.transform = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def epoch_rate(make_batches, n: int) -> float:
    start = time.perf_counter()
    seen = 0
    for images, _ in make_batches():
        seen += len(images)
    assert seen == n
    return n / (time.perf_counter() - start)


def measure(make_batches, n: int, repeats: int) -> float:
    epoch_rate(make_batches, n)  # warm-up
    return statistics.median(epoch_rate(make_batches, n) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.n, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (args.n,), generator=g)
    augment = FlipCrop(pad=4, flip=True)
    batches = TensorBatches(images, labels, args.batch, shuffle=True)

    def on_device():
        return ((augment(x), y) for x, y in batches)

    results = {"biaslab on-device batched": measure(on_device, args.n, args.repeats)}
    for workers in sorted({0, args.workers}):
        loader = DataLoader(
            PerSample(images, labels),
            batch_size=args.batch,
            shuffle=True,
            num_workers=workers,
            persistent_workers=workers > 0,
        )
        results[f"DataLoader + v2 per sample, {workers} workers"] = measure(
            lambda loader=loader: iter(loader), args.n, args.repeats
        )
    base = results["biaslab on-device batched"]
    print(
        f"{args.n} CIFAR-shaped images, batch {args.batch}, pad-4 crop + flip, "
        f"median of {args.repeats} epochs, torch threads {torch.get_num_threads()}"
    )
    for name, rate in results.items():
        print(f"{name:42s} {rate:12,.0f} samples/s   on-device is {base / rate:5.1f}x this")


if __name__ == "__main__":
    main()
