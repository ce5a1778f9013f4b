"""DataModules on small files in the real formats, read by torchvision's own loaders."""

from __future__ import annotations

import pytest
import torch

from biaslab.data.sequences import generate
from biaslab.data.tasks import tasks
from biaslab.errors import ConfigError, MissingDataError
from biaslab.run.build import build_components
from tests import data_files
from tests.conftest import compose


def _data_overrides(name: str, root) -> list[str]:
    extra = [f"paths.data_dir={root}", "data.download=false"]
    if name in ("svhn", "cifar10", "cifar100"):
        extra.append("data.verify_checksums=false")
    return [f"data={name}", *extra]


def test_torchvision_shapes_and_splits(data_root, tmp_path):
    from hydra.utils import instantiate

    for name, shape, classes in (
        ("mnist", (1, 28, 28), 10),
        ("cifar10", (3, 32, 32), 10),
        ("cifar100", (3, 32, 32), 100),
    ):
        dm = instantiate(compose(_data_overrides(name, data_root), tmp_path).data)
        dm.setup()
        x, _ = dm.splits["train"]
        assert tuple(x.shape[1:]) == shape and dm.num_classes == classes
        assert len(dm.splits["val"][0]) > 0 and len(dm.splits["test"][0]) > 0
        assert abs(x.mean().item()) < 1.5  # normalised


def test_image_folder_layouts(data_root, tmp_path):
    from hydra.utils import instantiate

    for folder in ("food", "flat"):
        cfg = compose(
            [
                "data=imagefolder",
                f"data.root={data_root / folder}",
                "data.image_size=16",
                "data.channels=1",
                "data.num_workers=0",
            ],
            tmp_path,
        )
        assert cfg.data.num_classes == 3
        dm = instantiate(cfg.data)
        dm.setup()
        images, labels = next(iter(dm.train_dataloader()))
        assert images.shape[1:] == (1, 16, 16)
        assert set(labels.tolist()) <= {0, 1, 2}


def test_each_image_data_set_names_its_classes(data_root, tmp_path):
    """`class_names` (the W&B confusion matrix's labels): torchvision's names for the MNIST
    family, the meta file's label names for CIFAR (the test files' `c0`, ...), the digits for
    SVHN and digits, the class folders' names for an image folder."""
    from hydra.utils import instantiate

    fashion = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    expected = {
        "fashion_mnist": fashion.split(","),
        "mnist": [f"{d} - {w}" for d, w in enumerate(words)],
        "cifar10": [f"c{i}" for i in range(10)],
        "cifar100": [f"c{i}" for i in range(100)],
        "svhn": [str(d) for d in range(10)],
    }
    for name, names in expected.items():
        dm = instantiate(compose(_data_overrides(name, data_root), tmp_path).data)
        dm.setup()
        assert dm.class_names == names, name
    digits = instantiate(compose(["data=digits"], tmp_path).data)
    assert digits.class_names == [str(d) for d in range(10)]
    folder = [f"data.root={data_root / 'food'}", "data.image_size=8", "data.num_workers=0"]
    dm = instantiate(compose(["data=imagefolder", *folder], tmp_path).data)
    dm.setup()
    assert dm.class_names == ["class_0", "class_1", "class_2"]


def test_missing_torchvision_files_name_the_folder_and_flag(tmp_path):

    cfg = compose(["data=cifar10", f"paths.data_dir={tmp_path}", "data.download=false"], tmp_path)
    with pytest.raises(
        ConfigError,
        match=rf"data.data_dir={tmp_path} holds no CIFAR10 files .*set data.download=true",
    ):
        build_components(cfg)  # the DataModule's constructor: before any training


def test_missing_files_also_caught_by_the_loader(tmp_path):
    from biaslab.data.vision import MNISTDataModule

    with pytest.raises(MissingDataError, match=r"set data\.download=true"):
        MNISTDataModule(
            name="mnist",
            data_dir=str(tmp_path),
            download=False,
            num_classes=10,
            input_shape=(1, 28, 28),
        )


def test_missing_image_folder_is_a_clear_error(tmp_path):

    cfg = compose(["data=imagefolder", f"data.root={tmp_path / 'nope'}"], tmp_path)
    with pytest.raises(ConfigError, match=r"data.root=.*nope does not exist; point data.root"):
        build_components(cfg)


@pytest.mark.parametrize("layout", ["torchvision", "flat"])
@pytest.mark.parametrize("compressed", [True, False])
def test_fashion_mnist_from_the_four_original_files_offline(layout, compressed, tmp_path):
    """The four idx files as distributed (.gz, any gzip level, so any MD5), in torchvision's
    raw/ folder or directly in data_dir: loaded with downloads off, checked by content."""
    from hydra.utils import instantiate

    data_files.write_mnist(tmp_path, "FashionMNIST", gz=compressed, flat=layout == "flat")
    cfg = compose(
        ["data=fashion_mnist", f"data.data_dir={tmp_path}", "data.download=false"], tmp_path
    )
    dm = instantiate(cfg.data)
    dm.setup()
    assert dm.splits["train"][0].shape[1:] == (1, 28, 28)
    assert len(dm.splits["train"][0]) + len(dm.splits["val"][0]) == 200
    assert len(dm.splits["test"][0]) == 60


def test_a_corrupt_idx_file_is_named(tmp_path):
    from hydra.utils import instantiate

    data_files.write_mnist(tmp_path, "FashionMNIST", gz=True, flat=True)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not a gzip of idx")
    cfg = compose(
        ["data=fashion_mnist", f"data.data_dir={tmp_path}", "data.download=false"], tmp_path
    )
    with pytest.raises(Exception, match="train-labels-idx1-ubyte"):
        instantiate(cfg.data).setup()
    import gzip

    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03rest"))
    with pytest.raises(MissingDataError, match=r"train-labels-idx1-ubyte.gz is not an idx file"):
        instantiate(cfg.data).setup()


def test_svhn_reads_mat_files_as_nchw_with_labels_0_to_9(tmp_path):
    from hydra.utils import instantiate

    data_files.write_svhn(tmp_path / "svhn", extra=True)
    base = [
        "data=svhn",
        f"paths.data_dir={tmp_path}",
        "data.download=false",
        "data.verify_checksums=false",
    ]
    dm = instantiate(compose(base, tmp_path).data)
    dm.setup()
    x, y = dm.splits["test"]
    assert x.shape[1:] == (3, 32, 32) and set(y.tolist()) == set(range(10))  # label 10 -> 0
    n_train = len(dm.splits["train"][0]) + len(dm.splits["val"][0])
    with_extra = instantiate(compose([*base, "data.use_extra=true"], tmp_path).data)
    with_extra.setup()
    assert len(with_extra.splits["train"][0]) + len(with_extra.splits["val"][0]) == n_train + 30


def test_unknown_data_keys_are_refused(tmp_path):
    cfg = compose(["+data.batchsize=32"], tmp_path)
    with pytest.raises(ConfigError, match=r"data.batchsize is not an option of .*DigitsDataModule"):
        build_components(cfg)


def test_a_file_that_is_not_an_image_is_named_or_skipped(tmp_path):
    from hydra.utils import instantiate

    root = data_files.write_image_folder(tmp_path / "food")
    bad = root / "train" / "class_0" / "notes.png"
    bad.write_text("not an image")
    base = ["data=imagefolder", f"data.root={root}", "data.image_size=16", "data.num_workers=0"]
    with pytest.raises(ConfigError, match=r"notes.png under data.root is not an image"):
        instantiate(compose(base, tmp_path).data).setup()
    dm = instantiate(compose([*base, "data.bad_files=skip"], tmp_path).data)
    dm.setup()
    assert len(dm.datasets["train"]) == 3 * 12


@pytest.mark.parametrize("task", [t for t, spec in tasks().items() if spec.kind == "order"])
def test_order_sensitive_classes_hold_the_same_multisets(task):
    x, y = generate(task, 400, 12, 32, seed=0)
    pos, neg = x[y == 1], x[y == 0]
    assert len(pos) == len(neg) == 200
    torch.testing.assert_close(pos.sort(dim=1).values, neg.sort(dim=1).values)
    assert not torch.equal(pos, neg)


@pytest.mark.parametrize("task", [t for t, spec in tasks().items() if not spec.labelling])
def test_sequence_tasks_are_deterministic_and_balanced(task):
    a, b = generate(task, 400, 12, 32, seed=3), generate(task, 400, 12, 32, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    counts = torch.bincount(a[1]).float()
    assert counts.min() / counts.max() > 0.5


def test_length_generalisation_split(tmp_path):
    from hydra.utils import instantiate

    cfg = compose(["data=seq_first_vs_last", "data.test_length=24", "model=seq_attn"], tmp_path)
    dm = instantiate(cfg.data)
    dm.setup()
    assert dm.splits["train"][0].shape[1] == 16 and dm.splits["test"][0].shape[1] == 24


def test_train_fraction_and_per_class_subsample_stratified(tmp_path):
    from hydra.utils import instantiate

    full = instantiate(compose([], tmp_path).data)
    full.setup()
    part = instantiate(compose(["data.train_fraction=0.3"], tmp_path).data)
    part.setup()
    counts_full = torch.bincount(full.splits["train"][1]).float()
    counts_part = torch.bincount(part.splits["train"][1]).float()
    assert torch.allclose(counts_part / counts_full, torch.full((10,), 0.3), atol=0.03)
    per_class = instantiate(compose(["data.train_per_class=5"], tmp_path).data)
    per_class.setup()
    assert torch.bincount(per_class.splits["train"][1]).tolist() == [5] * 10


def test_subset_seed_redraws_the_training_subset(tmp_path):
    from hydra.utils import instantiate

    def subset(*extra):
        dm = instantiate(compose(["data.train_fraction=0.2", *extra], tmp_path).data)
        dm.setup()
        return dm.splits["train"][1], dm.splits["train"][0].sum()

    (y0, s0), (y1, s1) = subset("data.subset_seed=0"), subset("data.subset_seed=1")
    assert torch.equal(torch.bincount(y0), torch.bincount(y1))  # still stratified
    assert s0 != s1  # other images
    assert subset()[1] == subset("data.subset_seed=0")[1]  # default: split_seed (0)


def test_the_bundled_digits_are_scikit_learns_digits():
    """The copy in biaslab/data/digits.csv.gz holds exactly scikit-learn's images and labels."""
    import numpy as np

    sklearn = pytest.importorskip("sklearn.datasets", reason="the dev extra has scikit-learn")
    from biaslab.data.digits import DigitsDataModule

    reference = sklearn.load_digits()
    from pathlib import Path

    import biaslab.data.digits as digits

    table = np.loadtxt(Path(digits.__file__).with_name("digits.csv.gz"), delimiter=",")
    assert (table[:, :64].reshape(-1, 8, 8) == reference.images).all()
    assert (table[:, 64] == reference.target).all()
    dm = DigitsDataModule(num_classes=10, input_shape=(1, 8, 8))
    table = dm.load()
    total = sum(len(split[1]) for split in table.values())
    assert total == len(reference.target) == 1797
    counts = np.bincount(np.concatenate([split[1].numpy() for split in table.values()]))
    assert (counts == np.bincount(reference.target)).all()
