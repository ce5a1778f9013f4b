"""Image data sets held in memory: the MNIST family from its idx files, CIFAR-10/100 through
torchvision's own loader. Each module's `read(train)` returns uint8 (N, C, H, W) images and
(N,) labels; the shared base normalises them and cuts a stratified validation slice off the
official training split (the test split is the official one).

Downloads use torchvision's own code (`data.download=true`); offline, point `data.data_dir` at
the original files.
"""

from __future__ import annotations

import gzip
import math
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from biaslab.data.base import InMemoryDataModule, Split, stratified_split
from biaslab.data.safe_pickle import RefusedPickleError, restricted
from biaslab.errors import MissingDataError


class VisionDataModule(InMemoryDataModule):
    """Base: `read(train)` -> uint8 (N, C, H, W), (N,) labels; normalised with `mean` / `std`."""

    def __init__(
        self,
        data_dir: str,
        download: bool = True,
        val_fraction: float = 0.1,
        mean: Sequence[float] = (0.5,),
        std: Sequence[float] = (0.5,),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(
                f"data.val_fraction={val_fraction} must lie strictly between 0 and 1; try 0.1."
            )
        self.data_dir, self.download, self.val_fraction = Path(data_dir), download, val_fraction
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _tensors(self, train: bool) -> Split:
        images, labels = self.read(train)
        return (images.float() / 255.0 - self.mean) / self.std, labels.long()

    def load(self) -> dict[str, Split]:
        x, y = self._tensors(train=True)
        train, val = stratified_split(
            y, (1 - self.val_fraction, self.val_fraction), self.split_seed
        )
        return {
            "train": (x[train], y[train]),
            "val": (x[val], y[val]),
            "test": self._tensors(False),
        }


MNIST_FAMILY = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "kmnist": "KMNIST"}
IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DEBIAN_ROUTE = "no internet: `apt-get install dataset-fashion-mnist` puts Fashion-MNIST's in /usr/share/datasets/fashion-mnist"


@contextmanager
def download_failure(name: str, data_dir: Path, put: str) -> Iterator[None]:
    """A download that fails (no internet, a mirror down: urllib's URLError is an OSError,
    torchvision's MNIST mirror loop ends in RuntimeError) as one sentence naming the data set,
    the folder it looked in and where to put the files instead."""
    try:
        yield
    except MissingDataError:  # the lab's own sentence (a checksum refused) stands
        raise
    except (OSError, RuntimeError) as err:
        reason = str(getattr(err, "reason", None) or err).strip().splitlines() or [""]
        raise MissingDataError(
            f"data.data_dir={data_dir}: downloading {name} failed ({reason[0][:80].rstrip('.:')}); "
            f"without internet, put {put} and pass data.download=false."
        ) from err


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An idx file of unsigned bytes (gzip or not) -> array; checks magic, rank and length."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as err:
        raise MissingDataError(
            f"{path} cannot be read ({err}); replace it with the data set's original file."
        ) from err
    if len(raw) < 4 + 4 * ndim or raw[:4] != bytes((0, 0, 0x08, ndim)):
        raise MissingDataError(
            f"{path} is not an idx file of {ndim}-D unsigned bytes (magic {raw[:4].hex()}, "
            f"expected 000008{ndim:02x}); replace it with the data set's original file."
        )
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(shape):
        raise MissingDataError(
            f"{path} holds {data.size} values but its header says {list(shape)}; the file is "
            "truncated or corrupt: replace it with the original."
        )
    return data.reshape(shape)


class MNISTDataModule(VisionDataModule):
    """MNIST, Fashion-MNIST or KMNIST (`name`): 28x28 grey, from the four original idx files.

    The files are found in torchvision's layout (`data_dir/<Folder>/raw/`) or directly in
    `data_dir`, gzip-compressed or not. Checked by content (idx magic, counts, shapes, label
    range), not by MD5: repackaged copies (Debian's are recompressed) hold the same data.
    """

    def __init__(self, name: str = "fashion_mnist", **kwargs) -> None:
        super().__init__(**kwargs)
        if name not in MNIST_FAMILY:
            raise ValueError(f"data.name={name!r}: choose one of {', '.join(MNIST_FAMILY)}.")
        self.name, self.folder = name, MNIST_FAMILY[name]
        if not self.download:
            self._files(train=True), self._files(train=False)  # fail now, before training

    @property
    def class_names(self) -> list[str]:
        """torchvision's names of the classes: "T-shirt/top", ..., "Ankle boot"; "0 - zero", ..."""
        import torchvision.datasets as tvd

        return [str(c) for c in getattr(tvd, self.folder).classes]

    def _find(self, stem: str) -> Path | None:
        for folder in (self.data_dir / self.folder / "raw", self.data_dir):
            for suffix in ("", ".gz"):
                if (folder / f"{stem}{suffix}").is_file():
                    return folder / f"{stem}{suffix}"
        return None

    def _files(self, train: bool) -> tuple[Path, Path]:
        found = [self._find(stem) for stem in IDX_FILES[train]]
        if None in found:
            missing = IDX_FILES[train][found.index(None)]
            raise MissingDataError(
                f"data.data_dir={self.data_dir} holds no {self.folder} files ({missing}[.gz] in "
                f"{self.folder}/raw/ or in data_dir itself); set data.download=true or copy the "
                f"four original files there ({DEBIAN_ROUTE})."
            )
        return found[0], found[1]

    def prepare_data(self) -> None:
        if self.download and (
            self._find(IDX_FILES[True][0]) is None or self._find(IDX_FILES[False][0]) is None
        ):
            import torchvision.datasets as tvd

            put = f"the four original idx files in {self.data_dir / self.folder / 'raw'}"
            if self.name == "fashion_mnist":
                put += " (Debian: apt-get install dataset-fashion-mnist, then data.data_dir=/usr/share/datasets/fashion-mnist)"
            with download_failure(self.folder, self.data_dir, put):
                for train in (True, False):
                    getattr(tvd, self.folder)(str(self.data_dir), train=train, download=True)

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        self.prepare_data()  # the run loads its data before Lightning would call prepare_data
        image_file, label_file = self._files(train)
        images, labels = read_idx(image_file, 3), read_idx(label_file, 1)
        if len(images) != len(labels) or images.shape[1:] != (28, 28):
            raise MissingDataError(
                f"{image_file} holds {list(images.shape)} images for {len(labels)} labels in "
                f"{label_file}; expected N x 28 x 28 for N labels: use the original files."
            )
        if labels.max(initial=0) >= self.num_classes:
            raise MissingDataError(
                f"{label_file} has label {labels.max()} but data.num_classes={self.num_classes}; "
                "use the original files (labels 0-9)."
            )
        return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.copy())


CIFAR_FOLDERS = {
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
    "cifar100": ("CIFAR100", "cifar-100-python"),
}


class CIFARDataModule(VisionDataModule):
    """CIFAR-10 or CIFAR-100 (`name`) through torchvision's loader (its pickled batches, read
    by `biaslab.data.safe_pickle`: only what the official files hold is built)."""

    def __init__(self, name: str = "cifar10", verify_checksums: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if name not in CIFAR_FOLDERS:
            raise ValueError(f"data.name={name!r}: choose one of {', '.join(CIFAR_FOLDERS)}.")
        self.name, self.verify_checksums = name, verify_checksums
        self.cls_name, folder = CIFAR_FOLDERS[name]
        self.class_names: list[str] | None = None  # read from the data's meta file
        if not self.download and not (self.data_dir / folder).is_dir():
            raise MissingDataError(
                f"data.data_dir={self.data_dir} holds no {self.cls_name} files ({folder}/); "
                "set data.download=true or copy the data there."
            )

    def _dataset(self, train: bool):
        """torchvision's loader, its pickles read by `safe_pickle` (nothing in them is run)."""
        import torchvision.datasets as tvd

        cls = restricted(getattr(tvd, self.cls_name))
        if not self.verify_checksums:
            cls = without_checksums(cls)
        try:
            return cls(str(self.data_dir), train=train, download=self.download)
        except RefusedPickleError as err:
            raise MissingDataError(
                f"data.data_dir={self.data_dir}: {err.path or 'a ' + self.cls_name + ' file'} "
                f"is a pickle naming {err.found}, which no {self.cls_name} batch holds, so it was "
                "refused before anything in it ran; replace it with the official file."
            ) from err
        except Exception as err:
            raise unreadable(
                self.data_dir, f"the {self.cls_name} files", err, self.download
            ) from err

    def prepare_data(self) -> None:
        if self.download:
            self.read(True), self.read(False)

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        put = f"the unpacked official archive ({CIFAR_FOLDERS[self.name][1]}/) in {self.data_dir}"
        with download_failure(self.cls_name, self.data_dir, put):
            ds = self._dataset(train)  # downloads first when data.download=true
        self.class_names = [str(c) for c in ds.classes]  # its meta file's label names
        return torch.as_tensor(ds.data).permute(0, 3, 1, 2), torch.as_tensor(ds.targets)


def without_checksums(cls: type) -> type:
    """The same torchvision loader with its MD5 list blanked: files are still required and parsed
    by torchvision's own code, but not compared with the official checksums (for data you built
    or converted yourself)."""
    attrs: dict = {}
    for key in ("train_list", "test_list"):
        if hasattr(cls, key):
            attrs[key] = [[name, None] for name, *_ in getattr(cls, key)]
    if hasattr(cls, "meta"):
        attrs["meta"] = {**cls.meta, "md5": None}
    if hasattr(cls, "split_list"):
        attrs["split_list"] = {k: [url, name, None] for k, (url, name, _) in cls.split_list.items()}
    return type(cls.__name__, (cls,), attrs)


def unreadable(data_dir: Path, name: str, err: Exception, download: bool) -> MissingDataError:
    """One sentence for data files torchvision's loader refused: a checksum that does not match
    (its RuntimeError "not found or corrupted"), a file its parser cannot read (scipy's
    loadmat, unpickling), or a failed download (which torchvision tries when the checksum does
    not match and `download` is set)."""
    where = f"data.data_dir={data_dir}: {name}"
    if download:
        return MissingDataError(
            f"{where} could not be read or downloaded ({first_clause(err)}); copy the official "
            "files there and pass data.download=false, or check the network."
        )
    if isinstance(err, RuntimeError):
        return MissingDataError(
            f"data.data_dir={data_dir}: torchvision's checksum test failed for {name} (damaged, "
            "cut short or not the official files); copy the files again, or pass "
            "data.verify_checksums=false for files you built yourself."
        )
    return MissingDataError(
        f"{where} cannot be read ({first_clause(err)}); copy the official files there again."
    )


def first_clause(err: BaseException) -> str:
    """A library error's first clause (no sentence break, at most 80 characters), to quote
    inside the lab's own one-sentence message: "Unknown mat file type, version 0, 0"."""
    text = (str(err).strip().splitlines() or [""])[0].split(". ")[0].rstrip(".")
    return (text or type(err).__name__)[:80]
