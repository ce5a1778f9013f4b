"""scikit-learn's bundled 8x8 digits: the embedded default, needs no network."""

from __future__ import annotations

import torch

from biaslab.data.base import InMemoryDataModule, Split, check_fractions, stratified_split


class DigitsDataModule(InMemoryDataModule):
    """1,797 grey 8x8 images of 10 digits, split stratified (train/val/test) from `split_seed`.

    Inputs (B, 1, 8, 8) standardised with the training split's mean and std.
    """

    def __init__(self, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), **kwargs):
        super().__init__(**kwargs)
        self.fractions = check_fractions(fractions)

    def load(self) -> dict[str, Split]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        targets = torch.tensor(digits.target, dtype=torch.long)
        train, val, test = stratified_split(targets, self.fractions, self.split_seed)
        mean, std = images[train].mean(), images[train].std()
        images = (images - mean) / std
        return {
            name: (images[i], targets[i])
            for name, i in zip(("train", "val", "test"), (train, val, test), strict=True)
        }
