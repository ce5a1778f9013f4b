"""SVHN (street-view house numbers) through torchvision's loader: `{split}_32x32.mat` files in
`data_dir/svhn/`, read as uint8 (N, 3, 32, 32) with labels 0-9 (torchvision maps 10 to 0)."""

from __future__ import annotations

import torch

from biaslab.data.vision import VisionDataModule, unreadable, without_checksums
from biaslab.errors import MissingDataError


class SVHNDataModule(VisionDataModule):
    """Train (+ the 531k-image `extra` split when `use_extra`) / official test; the validation
    slice is cut off the training images, stratified."""

    def __init__(self, use_extra: bool = False, verify_checksums: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.use_extra, self.verify_checksums = use_extra, verify_checksums
        self.root = self.data_dir / "svhn"
        self.class_names = [str(d) for d in range(10)]  # the digits (torchvision maps 10 to 0)
        needed = ["train", "test"] + (["extra"] if use_extra else [])
        missing = [s for s in needed if not (self.root / f"{s}_32x32.mat").is_file()]
        if missing and not self.download:
            raise MissingDataError(
                f"data.data_dir={self.data_dir} holds no SVHN {missing[0]}_32x32.mat in svhn/; "
                "set data.download=true or copy the .mat files there"
                + (" (or data.use_extra=false)." if "extra" in missing else ".")
            )

    def _split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        import torchvision.datasets as tvd

        cls = tvd.SVHN if self.verify_checksums else without_checksums(tvd.SVHN)
        try:
            ds = cls(str(self.root), split=split, download=self.download)
        except Exception as err:
            raise unreadable(self.data_dir, f"svhn/{split}_32x32.mat", err, self.download) from err
        return torch.as_tensor(ds.data), torch.as_tensor(ds.labels)

    def prepare_data(self) -> None:
        if self.download:
            for split in ("train", "test", "extra") if self.use_extra else ("train", "test"):
                self._split(split)

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if not train:
            return self._split("test")
        parts = [self._split("train")] + ([self._split("extra")] if self.use_extra else [])
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
