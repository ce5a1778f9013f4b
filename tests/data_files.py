"""Write tiny data sets in their real on-disk formats, for torchvision's own loaders to read."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def _idx(path: Path, array: np.ndarray) -> None:
    """The MNIST idx format: magic (0, 0, dtype 0x08 = ubyte, ndim), big-endian dims, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(
    root: Path,
    folder: str = "MNIST",
    n_train: int = 200,
    n_test: int = 60,
    gz: bool = False,
    flat: bool = False,
) -> Path:
    """The four idx files in torchvision's `root/<folder>/raw/`, or directly in root (`flat`);
    `gz`: gzip-compressed as distributed (level 6, not the original's: so another MD5)."""
    import gzip

    raw = root if flat else root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, (n, 28, 28))
        for i, label in enumerate(labels):  # a class-dependent bright bar, so it is learnable
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = raw / f"{prefix}-{kind}-ubyte"
            _idx(path, array)
            if gz:
                Path(f"{path}.gz").write_bytes(gzip.compress(path.read_bytes(), compresslevel=6))
                path.unlink()
    return root


def write_svhn(folder: Path, n_train: int = 120, n_test: int = 40, extra: bool = False) -> Path:
    """SVHN's `.mat` files (MATLAB v5, scipy): X (32, 32, 3, N) uint8, y (N, 1) in 1..10."""
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    splits = {"train": n_train, "test": n_test, **({"extra": 30} if extra else {})}
    for split, n in splits.items():
        labels = (np.arange(n) % 10) + 1  # SVHN writes digit 0 as label 10
        images = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        savemat(folder / f"{split}_32x32.mat", {"X": images, "y": labels.reshape(-1, 1)})
    return folder


def _cifar_arrays(n: int, num_classes: int, rng) -> tuple[np.ndarray, list[int]]:
    labels = [i % num_classes for i in range(n)]
    data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
    return data, labels


# CIFAR's official pickles come from Python 2: read with encoding="latin1" their keys are str.
def write_cifar10(root: Path, per_batch: int = 40, n_test: int = 60) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in [*[(f"data_batch_{i}", per_batch) for i in range(1, 6)], ("test_batch", n_test)]:
        data, labels = _cifar_arrays(n, 10, rng)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels, "batch_label": name}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    return root


def write_cifar100(root: Path, n_train: int = 300, n_test: int = 100) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", n_train), ("test", n_test)):
        data, labels = _cifar_arrays(n, 100, rng)
        with open(folder / name, "wb") as f:
            pickle.dump(
                {"data": data, "fine_labels": labels, "coarse_labels": [x // 5 for x in labels]}, f
            )
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, f)
    return root


def write_image_folder(
    root: Path, classes: int = 3, per_class: int = 12, split: bool = True
) -> Path:
    """PNG files: root/{train,valid,test}/<class>/i.png, or root/<class>/i.png with split=False."""
    from PIL import Image

    rng = np.random.default_rng(0)
    splits = {"train": per_class, "valid": 4, "test": 4} if split else {"": per_class}
    for split_name, n in splits.items():
        for c in range(classes):
            folder = root / split_name / f"class_{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
                pixels[:, :, c % 3] = 255
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root
