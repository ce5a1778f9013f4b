"""Generated tabular data: rows of `features` numbers, no spatial or sequential structure (the
control where a convolution's or attention's bias has nothing to hold on to).

`num_classes` Gaussian clusters: each class has a centre drawn once from `split_seed` (so every
split shares them), each row is its class's centre plus unit Gaussian noise. `separation`
scales the centres: small values make the classes overlap. Inputs (N, features) float,
targets (N,) long.
"""

from __future__ import annotations

import torch

from biaslab.data.base import GeneratedDataModule, Split


class BlobsDataModule(GeneratedDataModule):
    modality = "tabular"

    def __init__(
        self,
        features: int = 16,
        separation: float = 1.0,
        num_train: int = 2000,
        num_val: int = 500,
        num_test: int = 500,
        **kwargs,
    ) -> None:
        super().__init__(num_train, num_val, num_test, **kwargs)
        if features < 1 or separation <= 0:
            raise ValueError(
                f"data.features={features} must be >= 1 and data.separation={separation} > 0; "
                "pass data.features=16 data.separation=1.0."
            )
        if tuple(self.input_shape) != (features,):
            raise ValueError(
                f"data.input_shape={list(self.input_shape)} must be [data.features] = [{features}]."
            )
        g = torch.Generator().manual_seed(self.split_seed + 10_007)
        self.centres = torch.randn(self.num_classes, features, generator=g) * separation

    def generate(self, split: str, n: int, seed: int) -> Split:
        g = torch.Generator().manual_seed(seed)
        targets = torch.arange(n) % self.num_classes
        targets = targets[torch.randperm(n, generator=g)]
        inputs = self.centres[targets] + torch.randn(n, self.centres.shape[1], generator=g)
        return inputs, targets
