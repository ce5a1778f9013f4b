"""MNIST, Fashion-MNIST, CIFAR-10/100 through torchvision's own loaders, held in memory.

Downloads are on by default (`data.download=true`); with downloads off and files missing, the
error names the folder and the flag. Validation is a stratified slice of the official training
split; the test split is the official one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from biaslab.data.base import InMemoryDataModule, Split, stratified_split
from biaslab.data.catalog import DATASETS


class MissingDataError(FileNotFoundError):
    """Data files are not where the config says, and downloading is off."""


def without_checksums(cls: type) -> type:
    """The same torchvision loader with its MD5 list blanked: files are still required and parsed
    by torchvision's own code, but not compared with the official checksums (for data you built
    or converted yourself). CIFAR checks MD5s; MNIST checks only that the files exist."""
    if not hasattr(cls, "train_list"):
        return cls
    attrs = {
        "train_list": [[name, None] for name, _ in cls.train_list],
        "test_list": [[name, None] for name, _ in cls.test_list],
        "meta": {**cls.meta, "md5": None},
    }
    return type(cls.__name__, (cls,), attrs)


class TorchvisionDataModule(InMemoryDataModule):
    """One of `DATASETS`, loaded by torchvision into (N, C, H, W) float tensors, normalised with
    the data set's `mean` / `std` (per channel)."""

    def __init__(
        self,
        name: str,
        data_dir: str,
        download: bool = True,
        val_fraction: float = 0.1,
        verify_checksums: bool = True,
        mean: Sequence[float] = (0.5,),
        std: Sequence[float] = (0.5,),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if name not in DATASETS:
            raise ValueError(f"data.name={name!r}: choose one of {', '.join(DATASETS)}.")
        self.name, self.data_dir, self.download = name, Path(data_dir), download
        self.val_fraction, self.verify_checksums = val_fraction, verify_checksums
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def prepare_data(self) -> None:
        if self.download:
            self._dataset(train=True)
            self._dataset(train=False)

    def _dataset(self, train: bool):
        import torchvision.datasets as tvd

        cls_name, folder = DATASETS[self.name]
        cls = getattr(tvd, cls_name)
        if not self.verify_checksums:
            cls = without_checksums(cls)
        try:
            return cls(str(self.data_dir), train=train, download=self.download)
        except RuntimeError as err:
            if self.download:
                raise
            raise MissingDataError(
                f"data.data_dir={self.data_dir} holds no {cls_name} files ({folder}/); "
                "set data.download=true or copy the data there."
            ) from err

    def _tensors(self, train: bool) -> Split:
        ds = self._dataset(train)
        images = torch.as_tensor(ds.data)
        images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
        images = (images.float() / 255.0 - self.mean) / self.std
        return images, torch.as_tensor(ds.targets, dtype=torch.long)

    def load(self) -> dict[str, Split]:
        x, y = self._tensors(train=True)
        fractions = (1 - self.val_fraction, self.val_fraction)
        train, val = stratified_split(y, fractions, self.split_seed)
        return {
            "train": (x[train], y[train]),
            "val": (x[val], y[val]),
            "test": self._tensors(False),
        }
