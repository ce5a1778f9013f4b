"""The UCI optical-recognition 8x8 digits (1,797 images), as scikit-learn bundles them
(`digits.csv.gz`, copied here from scikit-learn 1.x, BSD-3; data: UCI ML repository, CC BY 4.0):
the embedded default, needs no network and no scikit-learn."""

from __future__ import annotations

from pathlib import Path

import torch

from biaslab.data.base import InMemoryDataModule, Split, check_fractions, stratified_split


class DigitsDataModule(InMemoryDataModule):
    """1,797 grey 8x8 images of 10 digits, split stratified (train/val/test) from `split_seed`.

    Inputs (B, 1, 8, 8) standardised with the training split's mean and std.
    """

    def __init__(self, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), **kwargs):
        super().__init__(**kwargs)
        self.fractions = check_fractions(fractions)
        self.class_names = [str(d) for d in range(10)]

    def load(self) -> dict[str, Split]:
        import numpy as np

        table = np.loadtxt(Path(__file__).with_name("digits.csv.gz"), delimiter=",")
        images = torch.tensor(table[:, :64], dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
        targets = torch.tensor(table[:, 64], dtype=torch.long)
        train, val, test = stratified_split(targets, self.fractions, self.split_seed)
        mean, std = images[train].mean(), images[train].std()
        images = (images - mean) / std
        return {
            name: (images[i], targets[i])
            for name, i in zip(("train", "val", "test"), (train, val, test), strict=True)
        }
