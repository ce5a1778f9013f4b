"""Order-sensitive classification: n // 2 positives and their permutations as negatives, so
both classes hold the same multisets of tokens and a model without positions sits at chance."""

from __future__ import annotations

import torch

from biaslab.data.tasks import distinct_rows, pairs, task


@task("is_sorted", kind="order", distinct=True)
def is_sorted(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """Sorted rows vs a shuffle of the same tokens."""
    pos = distinct_rows(n // 2, length, vocab, g).sort(dim=1).values
    perm = torch.rand(n // 2, length, generator=g).argsort(dim=1)
    neg = pos.gather(1, perm)
    still_sorted = (neg.diff(dim=1) > 0).all(dim=1)
    neg[still_sorted] = neg[still_sorted].flip(1)
    return pairs(pos, neg)


@task("first_vs_last", kind="order", distinct=True)
def first_vs_last(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """First token > last token; the negative swaps them."""
    pos = distinct_rows(n // 2, length, vocab, g)
    swap = pos[:, 0] < pos[:, -1]
    pos[swap, 0], pos[swap, -1] = pos[swap, -1], pos[swap, 0].clone()
    neg = pos.clone()
    neg[:, 0], neg[:, -1] = pos[:, -1], pos[:, 0]
    return pairs(pos, neg)


@task("position_of_max", kind="order", distinct=True)
def position_of_max(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """The maximum sits in the first half; the negative is the row reversed."""
    pos = distinct_rows(n // 2, length, vocab, g)
    late = pos.argmax(dim=1) >= length // 2
    pos[late] = pos[late].flip(1)
    return pairs(pos, pos.flip(1))


@task("a_before_b", kind="order")
def a_before_b(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """Token 0 (A) before token 1 (B); the negative swaps A and B."""
    half = n // 2
    pos = torch.randint(2, vocab, (half, length), generator=g)
    where = torch.rand(half, length, generator=g).argsort(dim=1)[:, :2].sort(dim=1).values
    rows = torch.arange(half)
    pos[rows, where[:, 0]], pos[rows, where[:, 1]] = 0, 1
    neg = pos.clone()
    neg[rows, where[:, 0]], neg[rows, where[:, 1]] = 1, 0
    return pairs(pos, neg)
