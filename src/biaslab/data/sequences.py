"""Synthetic sequence tasks over token ids, generated deterministically from a seed.

Order-sensitive tasks are built in pairs: a negative is a permutation of its positive, so both
classes hold the same multisets of tokens and only the order tells them apart (a model without
positions sits at chance). Order-free controls depend on the multiset alone.
Labelling tasks give one label per token (the lecture's sequence labelling): targets (N, L),
for `pooling=tokens`. `rises` needs only relative order (is this token larger than the one just
before it?); `parity_at_position` needs absolute positions ((token + position) mod 2).
Inputs (N, L) long in [0, vocab_size); targets (N,) or (N, L).
"""

from __future__ import annotations

import torch

from biaslab.data.base import GeneratedDataModule, Split

ORDER_SENSITIVE = ("is_sorted", "first_vs_last", "position_of_max", "a_before_b")
ORDER_FREE = ("sum_mod_k", "majority", "contains_token")
LABELLING = ("rises", "parity_at_position")
TASKS = ORDER_SENSITIVE + ORDER_FREE + LABELLING


def _distinct_rows(n: int, length: int, vocab: int, g: torch.Generator) -> torch.Tensor:
    """(n, length) rows of distinct tokens (needs vocab >= length)."""
    return torch.rand(n, vocab, generator=g).argsort(dim=1)[:, :length]


def _pairs(pos: torch.Tensor, neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack positives (label 1) and their permuted negatives (label 0)."""
    x = torch.cat([pos, neg])
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).long()
    return x, y


def generate(task: str, n: int, length: int, vocab: int, seed: int, k: int = 4) -> Split:
    """n examples (n // 2 pairs for order-sensitive tasks) of `task` at `length`."""
    g = torch.Generator().manual_seed(seed)
    half = n // 2
    if task == "is_sorted":  # sorted vs a shuffle of the same tokens
        pos = _distinct_rows(half, length, vocab, g).sort(dim=1).values
        perm = torch.rand(half, length, generator=g).argsort(dim=1)
        neg = pos.gather(1, perm)
        still_sorted = (neg.diff(dim=1) > 0).all(dim=1)
        neg[still_sorted] = neg[still_sorted].flip(1)
        return _pairs(pos, neg)
    if task == "first_vs_last":  # first token > last token; negative swaps them
        pos = _distinct_rows(half, length, vocab, g)
        swap = pos[:, 0] < pos[:, -1]
        pos[swap, 0], pos[swap, -1] = pos[swap, -1], pos[swap, 0].clone()
        neg = pos.clone()
        neg[:, 0], neg[:, -1] = pos[:, -1], pos[:, 0]
        return _pairs(pos, neg)
    if task == "position_of_max":  # the maximum sits in the first half; negative is reversed
        pos = _distinct_rows(half, length, vocab, g)
        late = pos.argmax(dim=1) >= length // 2
        pos[late] = pos[late].flip(1)
        return _pairs(pos, pos.flip(1))
    if task == "a_before_b":  # token 0 (A) before token 1 (B); negative swaps A and B
        pos = torch.randint(2, vocab, (half, length), generator=g)
        where = torch.rand(half, length, generator=g).argsort(dim=1)[:, :2].sort(dim=1).values
        rows = torch.arange(half)
        pos[rows, where[:, 0]], pos[rows, where[:, 1]] = 0, 1
        neg = pos.clone()
        neg[rows, where[:, 0]], neg[rows, where[:, 1]] = 1, 0
        return _pairs(pos, neg)
    x = torch.randint(0, vocab, (n, length), generator=g)
    if task == "rises":  # label_i = x_i > x_(i-1); the first token has no predecessor: 0
        return x, torch.cat([torch.zeros(n, 1, dtype=torch.long), (x.diff(dim=1) > 0).long()], 1)
    if task == "parity_at_position":  # label_i = (x_i + i) mod 2
        return x, (x + torch.arange(length)) % 2
    if task == "sum_mod_k":
        return x, x.sum(dim=1) % k
    if task == "majority":  # more tokens from the lower half of the vocabulary than the upper
        low = (x < vocab // 2).sum(dim=1)
        if length % 2 == 0:
            x[:, -1] = torch.where(low * 2 == length, torch.zeros_like(x[:, -1]), x[:, -1])
            low = (x < vocab // 2).sum(dim=1)
        return x, (low * 2 > length).long()
    if task == "contains_token":  # does token 0 appear? balanced by planting it in half
        x = torch.randint(1, vocab, (n, length), generator=g)
        plant = torch.rand(n, generator=g) < 0.5
        spot = torch.randint(0, length, (n,), generator=g)
        x[plant, spot[plant]] = 0
        return x, plant.long()
    raise ValueError(f"data.task={task!r}: choose one of {', '.join(TASKS)}.")


class SequenceDataModule(GeneratedDataModule):
    """A task from `TASKS`: train/val at `length`, test at `test_length` (length generalisation,
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
        if task not in TASKS:
            raise ValueError(f"data.task={task!r}: choose one of {', '.join(TASKS)}.")
        needs_distinct = task in ("is_sorted", "first_vs_last", "position_of_max")
        longest = max(length, test_length or 0)
        if needs_distinct and (self.vocab_size or 0) < longest:
            raise ValueError(
                f"data.task={task} draws distinct tokens: data.vocab_size={self.vocab_size} must "
                f"be >= the longest sequence ({longest})."
            )
        self.task, self.length, self.test_length, self.k = task, length, test_length, k
        self.labels_per_token = task in LABELLING

    def example_inputs(self, batch: int = 2) -> list[torch.Tensor]:
        lengths = {self.length, self.test_length or self.length}
        return [torch.zeros(batch, n, dtype=torch.long) for n in sorted(lengths)]

    def generate(self, split: str, n: int, seed: int) -> Split:
        length = (self.test_length or self.length) if split == "test" else self.length
        return generate(self.task, n, length, self.vocab_size, seed, self.k)
