"""Synthetic sequence tasks over token ids, generated deterministically from a seed.

The tasks live in the registry `biaslab.data.tasks` (one file per family of tasks): order-
sensitive pairs, order-free controls and labelling tasks (one label per token, for
`pooling=tokens`). Inputs (N, L) long in [0, vocab_size); targets (N,) or (N, L).
"""

from __future__ import annotations

import torch

from biaslab.data import tasks
from biaslab.data.base import GeneratedDataModule, Split


def generate(task: str, n: int, length: int, vocab: int, seed: int, k: int = 4) -> Split:
    """n examples (n // 2 pairs for order-sensitive tasks) of `task` at `length`."""
    g = torch.Generator().manual_seed(seed)
    return tasks.get(task).generate(n, length, vocab, g, k)


class SequenceDataModule(GeneratedDataModule):
    """A registered task: train/val at `length`, test at `test_length` (length generalisation,
    e.g. for PE extrapolation) when set."""

    modality = "sequence"

    def __init__(
        self,
        task: str,
        length: int = 16,
        test_length: int | None = None,
        num_train: int = 4000,
        num_val: int = 1000,
        num_test: int = 1000,
        k: int = 4,
        **kwargs,
    ) -> None:
        super().__init__(num_train, num_val, num_test, **kwargs)
        try:
            spec = tasks.get(task)
        except ValueError as err:
            raise ValueError(f"data.{err}") from None
        for key, value in (("length", length), ("test_length", test_length)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(
                    f"data.{key}={value} must be a positive integer; pass data.{key}=16."
                )
        if (self.vocab_size or 0) < 2:
            raise ValueError(
                f"data.vocab_size={self.vocab_size} must be >= 2; pass data.vocab_size=32."
            )
        longest = max(length, test_length or 0)
        if spec.distinct and (self.vocab_size or 0) < longest:
            raise ValueError(
                f"data.task={task} draws distinct tokens: data.vocab_size={self.vocab_size} must "
                f"be >= the longest sequence ({longest})."
            )
        self.task, self.length, self.test_length, self.k = task, length, test_length, k
        self.labels_per_token = spec.labelling

    def example_inputs(self, batch: int = 2) -> list[torch.Tensor]:
        lengths = {self.length, self.test_length or self.length}
        return [torch.zeros(batch, n, dtype=torch.long) for n in sorted(lengths)]

    def generate(self, split: str, n: int, seed: int) -> Split:
        length = (self.test_length or self.length) if split == "test" else self.length
        return generate(self.task, n, length, self.vocab_size, seed, self.k)
