"""Image folders (food-11 style), file-backed: DataLoader workers + torchvision.transforms.v2.

Layout `root/train/<class>/*.png` + `root/val/` (or `valid/`) + optional `root/test/`, or one
`root/<class>/*` tree split by fraction. Images are resized to `image_size`, grey or RGB.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from biaslab.data.base import BaseDataModule, check_fractions, stratified_split, subsample
from biaslab.errors import ConfigError, MissingDataError

log = logging.getLogger("biaslab")
BAD_FILES = ("error", "skip")


def _visible(path: str) -> bool:
    """Every file but hidden ones: a stray non-image is then found and named, not skipped."""
    return not Path(path).name.startswith(".")


def image_folder(folder: Path, transform: Any, root: Path) -> Any:
    """torchvision's ImageFolder over `folder` (one subfolder per class); a class folder with no
    file in it is named in one sentence (torchvision raises FileNotFoundError for it)."""
    from torchvision.datasets import ImageFolder

    empty = sorted(
        str(c.relative_to(root))
        for c in folder.iterdir()
        if c.is_dir() and not c.name.startswith(".") and not _has_file(c)
    )
    if empty:
        raise MissingDataError(
            f"data.root={root}: its class folder {empty[0]} holds no file ({len(empty)} empty class "
            "folder(s)); add its images, or remove the folder if it is not a class."
        )
    return ImageFolder(str(folder), transform, is_valid_file=_visible)


def _has_file(folder: Path) -> bool:
    """Whether any visible file lies under `folder` (ImageFolder looks in every subfolder)."""
    return any(p.is_file() and _visible(str(p)) for p in folder.rglob("*"))


def split_dirs(root: Path) -> dict[str, Path] | None:
    """{'train', 'val', ['test']} folders when the tree is pre-split, else None."""
    if not (root / "train").is_dir():
        return None
    val = next((root / n for n in ("val", "valid", "validation") if (root / n).is_dir()), None)
    if val is None:
        raise MissingDataError(
            f"data.root={root} has train/ but no val/ or valid/; add one or drop the train/ level."
        )
    dirs = {"train": root / "train", "val": val}
    if (root / "test").is_dir():
        dirs["test"] = root / "test"
    return dirs


class ImageFolderDataModule(BaseDataModule):
    """A user's image tree via torchvision.datasets.ImageFolder; (B, C, image_size, image_size)."""

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        channels: int = 3,
        fractions: Sequence[float] = (0.8, 0.1, 0.1),
        num_workers: int = 2,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        bad_files: str = "error",
        **kwargs,
    ) -> None:
        if not Path(root).is_dir():  # first: a missing folder also counts 0 classes
            raise MissingDataError(
                f"data.root={root} does not exist; point data.root at your image folder "
                "(train/ + val/ or one folder per class)."
            )
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"data.channels={channels}: choose 1 (grey) or 3 (colour).")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 2:
            raise ValueError(
                f"data.image_size={image_size} must be an integer >= 2; pass data.image_size=64."
            )
        fractions = check_fractions(fractions)
        if bad_files not in BAD_FILES:
            raise ValueError(f"data.bad_files={bad_files!r}: choose one of {BAD_FILES}.")
        self.bad_files = bad_files
        self.root, self.image_size, self.channels = Path(root), image_size, channels
        self.fractions, self.num_workers = tuple(fractions), num_workers
        self.mean, self.std = list(mean)[:channels], list(std)[:channels]
        self.datasets: dict[str, Any] = {}
        self.class_names: list[str] | None = None  # the class folders' names, at setup

    def _transform(self, train: bool):
        from torchvision.transforms import v2

        steps: list[Any] = [
            v2.ToImage(),
            v2.Resize((self.image_size, self.image_size), antialias=True),
        ]
        if self.channels == 1:
            steps.append(v2.Grayscale(1))
        if train and self.sample_augment is not None:
            steps.append(self.sample_augment)
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(self.mean, self.std)]
        return v2.Compose(steps)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        dirs = split_dirs(self.root)
        if dirs is not None:
            views = {
                s: self._checked(image_folder(p, self._transform(s == "train"), self.root))
                for s, p in dirs.items()
            }
            views.setdefault("test", views["val"])
            classes, train_targets = views["train"].classes, torch.tensor(views["train"].targets)
            self.datasets = dict(views)
        else:
            train_view = self._checked(image_folder(self.root, self._transform(True), self.root))
            eval_view = image_folder(self.root, self._transform(False), self.root)
            eval_view.samples = eval_view.imgs = list(train_view.samples)
            eval_view.targets = list(train_view.targets)
            idx = stratified_split(
                torch.tensor(train_view.targets), self.fractions, self.split_seed
            )
            classes, train_targets = train_view.classes, torch.tensor(train_view.targets)[idx[0]]
            self.datasets = {
                "train": Subset(train_view, idx[0].tolist()),
                "val": Subset(eval_view, idx[1].tolist()),
                "test": Subset(eval_view, idx[2].tolist()),
            }
        self.class_names = list(classes)
        if len(classes) != self.num_classes:
            raise ValueError(
                f"data.num_classes={self.num_classes} but {self.root} has {len(classes)} class "
                "folders; drop the override or fix the tree."
            )
        if self.train_fraction < 1.0 or self.train_per_class is not None:
            keep = subsample(
                train_targets, self.train_fraction, self.train_per_class, self.subset_seed
            )
            self.datasets["train"] = Subset(self.datasets["train"], keep.tolist())

    def _checked(self, view):
        """Open every file once (PIL's verify): a file that is not an image is named in one
        sentence, or with `data.bad_files=skip` left out and counted in a warning."""
        from PIL import Image

        bad = []
        for path, _ in view.samples:
            try:
                with Image.open(path) as image:
                    image.verify()
            except Exception:
                bad.append(path)
        if bad and self.bad_files == "error":
            raise ConfigError(
                f"{bad[0]} under data.root is not an image ({len(bad)} such file(s)); remove it "
                "or pass data.bad_files=skip to leave such files out."
            )
        if bad:
            log.warning(
                "data.bad_files=skip: left out %d file(s) that are not images under %s "
                "(first: %s).",
                len(bad),
                view.root,
                bad[0],
            )
            skipped = set(bad)
            keep = [(p, t) for p, t in view.samples if p not in skipped]
            view.samples = view.imgs = keep
            view.targets = [t for _, t in keep]
        return view

    def _loader(self, split: str, train: bool) -> DataLoader:
        self.setup()
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=False,
        )

    def eval_batches(self, split: str) -> DataLoader:
        """The split with the eval transform (no augmentation), in order."""
        import copy

        self.setup()
        view = copy.copy(self.datasets[split])
        inner = view
        while isinstance(inner, Subset):  # the ImageFolder under the subsets carries the transform
            inner.dataset = copy.copy(inner.dataset)
            inner = inner.dataset
        inner.transform = self._transform(False)
        return DataLoader(
            view, batch_size=self.eval_batch_size, shuffle=False, num_workers=self.num_workers
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
