"""In-memory DataModules: one tensor per split, moved to the accelerator once, batched by index.

Small data sets (digits, MNIST, CIFAR, the sequence tasks) fit in memory; drawing batches by
index from a tensor that already sits on the device skips per-sample Python and collation, and
augmentation then runs batched on the device in `on_after_batch_transfer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch

from biaslab.data.batches import Split, TensorBatches


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three positive fractions (train, val, test) that add up to 1."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or min(values) <= 0 or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(
            f"data.fractions={list(fractions)} must be three positive fractions (train, val, "
            "test) that add up to 1; pass data.fractions=[0.7,0.15,0.15]."
        )
    return values  # type: ignore[return-value]


def stratified_split(
    targets: torch.Tensor, fractions: Sequence[float], seed: int
) -> list[torch.Tensor]:
    """Index tensors for each fraction that keep the class mix, even for tiny classes.

    Each example gets its random rank within its class scaled to [0, 1); sorting by it and
    cutting at the global fractions gives every split its share of every class, and a split
    of a small data set is never left empty by per-class rounding.
    """
    g = torch.Generator().manual_seed(seed)
    key = torch.empty(len(targets))
    for cls in targets.unique():
        idx = (targets == cls).nonzero().flatten()
        ranks = torch.randperm(len(idx), generator=g).float()
        key[idx] = (ranks + 0.5) / len(idx)
    key += torch.rand(len(targets), generator=g) * 1e-6  # break ties at random
    order = key.argsort()
    bounds = (torch.tensor([0.0, *fractions]).cumsum(0) * len(targets)).round().long().tolist()
    return [order[bounds[i] : bounds[i + 1]].sort().values for i in range(len(fractions))]


def subsample(targets: torch.Tensor, fraction: float, per_class: int | None, seed: int):
    """Stratified subset of indices: `fraction` of each class, or `per_class` examples each."""
    g = torch.Generator().manual_seed(seed + 1)
    keep = []
    for cls in targets.unique():
        idx = (targets == cls).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n = per_class if per_class is not None else max(1, round(fraction * len(idx)))
        keep.append(idx[:n])
    return torch.cat(keep).sort().values


MODALITIES = ("image", "sequence", "graph", "tabular")


def check_sizes(
    num_classes: int,
    batch_size: int,
    eval_batch_size: int,
    train_fraction: float,
    train_per_class: int | None,
) -> None:
    """The sizes every datamodule takes, checked once: batches of at least one example, a
    training fraction in (0, 1], at least one example per class, at least two classes."""
    for key, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"data.{key}={value} must be a positive integer; pass a size such as data.{key}=64."
            )
    if not 0.0 < train_fraction <= 1.0:
        raise ValueError(
            f"data.train_fraction={train_fraction} would train on nothing or too much; pass a "
            "fraction in (0, 1] such as data.train_fraction=0.1."
        )
    if train_per_class is not None and train_per_class < 1:
        raise ValueError(
            f"data.train_per_class={train_per_class} would train on nothing; pass at least 1 "
            "(or null for all)."
        )
    if int(num_classes) < 2:
        raise ValueError(
            f"data.num_classes={num_classes}: a classifier needs at least 2 classes; fix "
            "data.num_classes (or the data's class folders)."
        )


class BaseDataModule(L.LightningDataModule):
    """What every DataModule shares: sizes, batch sizes, seeds, subsampling and the on-device
    batched augmentation (`augment.batch`, then `augment.mix`) applied to training batches.
    Its arguments are conf/data_defaults/default.yaml's keys, so a data set's YAML names only
    its own. `modality` (one of MODALITIES) is what backbones declare they take.

    Unknown config keys are refused (no `**kwargs` swallows them); bad values fail in the
    constructor with one sentence naming the key.
    """

    modality = "image"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.modality not in MODALITIES:
            raise TypeError(
                f"{cls.__name__}.modality={cls.modality!r}: choose one of {MODALITIES}."
            )

    def __init__(
        self,
        num_classes: int,
        input_shape: Sequence[int],
        batch_size: int = 64,
        eval_batch_size: int = 512,
        split_seed: int = 0,
        shuffle_seed: int = 0,
        train_fraction: float = 1.0,
        train_per_class: int | None = None,
        subset_seed: int | None = None,
        augment: dict[str, Any] | None = None,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        check_sizes(num_classes, batch_size, eval_batch_size, train_fraction, train_per_class)
        self.num_classes, self.input_shape = int(num_classes), tuple(input_shape)
        self.vocab_size = vocab_size
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.split_seed, self.shuffle_seed = split_seed, shuffle_seed
        self.train_fraction, self.train_per_class = train_fraction, train_per_class
        # which training subset `train_fraction`/`train_per_class` keep: split_seed unless set
        # (data-scaling presets set it to the run's seed, so each seed draws its own subset)
        self.subset_seed = split_seed if subset_seed is None else subset_seed
        augment = augment or {}
        if self.modality != "image" and any(augment.get(k) is not None for k in ("batch", "mix")):
            raise ValueError(
                f"the augment group transforms images but this data is {self.modality} data; pass "
                "augment=none."
            )
        self.augment: Callable[[torch.Tensor], torch.Tensor] | None = augment.get("batch")
        self.batch_mix: Callable[[torch.Tensor, torch.Tensor], Split] | None = augment.get("mix")
        self.sample_augment = augment.get("sample")

    def example_inputs(self, batch: int = 2) -> list[torch.Tensor]:
        """Zero batches of every input shape this data produces (validation's dry run)."""
        if self.vocab_size:
            return [torch.zeros(batch, *self.input_shape, dtype=torch.long)]
        return [torch.zeros(batch, *self.input_shape)]

    def eval_batches(self, split: str):
        """Batches of a whole split in eval mode: in order, no augmentation (end-of-run metrics)."""
        raise NotImplementedError

    def on_after_batch_transfer(self, batch: Split, dataloader_idx: int) -> Split:
        """Batched, per-sample-random augmentation on the device, for training batches only."""
        trainer = self.trainer
        if trainer is None or not trainer.training or isinstance(batch, torch.Tensor):
            return batch  # a tensor alone: the model summary's example input
        inputs, targets = batch
        if self.augment is not None:
            inputs = self.augment(inputs)
        if self.batch_mix is not None:
            inputs, targets = self.batch_mix(inputs, targets)
        return inputs, targets


class InMemoryDataModule(BaseDataModule):
    """Base for data that fits in memory. The contract: a subclass implements only `load()` ->
    {"train", "val", "test"}: (inputs (N, *input_shape), targets (N,) long), reading its own
    files, splits, labels and layout; subsampling, checks, devices and batching live here."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.sample_augment is not None:
            raise ValueError(
                "augment.sample (per-sample PIL-style ops such as randaugment) needs file-backed "
                "data; use data=imagefolder or a batched augment (flip_crop, translate, rotate_scale)."
            )
        self.splits: dict[str, Split] = {}
        self._train: TensorBatches | None = None  # the train loader Lightning iterates
        self._train_state: dict[str, Any] | None = None  # its place, from a checkpoint

    def state_dict(self) -> dict[str, Any]:
        """The train loader's place ({"epoch", "batches"}), saved by Lightning in every
        checkpoint under this class's name: what a mid-epoch resume continues from."""
        return {"train_batches": self._train.state_dict()} if self._train is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Lightning restores the datamodule before the strategy's setup, whose optimizer
        config may build the train loader (`trainer.estimated_stepping_batches`) before the
        fit loop could hand that loader its own saved state: so the place is kept here and
        handed to the train loader whenever it is built, or to the one already built."""
        self._train_state = state.get("train_batches")
        if self._train is not None and self._train_state is not None:
            self._train.load_state_dict(self._train_state)

    def load(self) -> dict[str, Split]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        splits = self.load()
        x, y = splits["train"]
        if self.train_fraction < 1.0 or self.train_per_class is not None:
            keep = subsample(y, self.train_fraction, self.train_per_class, self.subset_seed)
            splits["train"] = (x[keep], y[keep])
        got_shape, got_classes = tuple(x.shape[1:]), int(y.max()) + 1
        if got_shape != self.input_shape or got_classes > self.num_classes:
            raise ValueError(
                f"data.input_shape={list(self.input_shape)} / data.num_classes={self.num_classes} "
                f"do not match the loaded data ({list(got_shape)}, {got_classes} classes); "
                "fix them in the data config."
            )
        self.splits = splits

    def _device(self) -> torch.device:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _loader(self, split: str, train: bool) -> TensorBatches:
        self.setup()
        x, y = (t.to(self._device()) for t in self.splits[split])
        trainer = self.trainer
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        return TensorBatches(
            x,
            y,
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            drop_last=train and len(x) // world > self.batch_size,
            seed=self.shuffle_seed,
            rank=rank,
            world_size=world,
        )

    def eval_batches(self, split: str) -> TensorBatches:
        return self._loader(split, train=False)

    def train_dataloader(self) -> TensorBatches:
        self._train = self._loader("train", train=True)
        if self._train_state is not None:  # once: a loader built later starts afresh
            self._train.load_state_dict(self._train_state)
            self._train_state = None
        return self._train

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val", train=False)

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test", train=False)


class GeneratedDataModule(InMemoryDataModule):
    """Base for data the lab generates: `num_train` / `num_val` / `num_test` examples, split i
    drawn from seed `split_seed + i`. A subclass implements only `generate(split, n, seed)`."""

    def __init__(self, num_train: int, num_val: int, num_test: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for key, n in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(
                    f"data.{key}={n} must be a positive integer; pass data.{key}=1000."
                )
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}

    def generate(self, split: str, n: int, seed: int) -> Split:
        raise NotImplementedError

    def load(self) -> dict[str, Split]:
        return {
            split: self.generate(split, self.sizes[split], self.split_seed + i)
            for i, split in enumerate(("train", "val", "test"))
        }
