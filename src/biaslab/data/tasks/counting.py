"""Order-free classification controls: the label depends on the multiset of tokens alone."""

from __future__ import annotations

import torch

from biaslab.data.tasks import task


@task("sum_mod_k", kind="free")
def sum_mod_k(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """The sum of the tokens mod k (k classes)."""
    x = torch.randint(0, vocab, (n, length), generator=g)
    return x, x.sum(dim=1) % k


@task("majority", kind="free")
def majority(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """More tokens from the lower half of the vocabulary than from the upper half."""
    x = torch.randint(0, vocab, (n, length), generator=g)
    low = (x < vocab // 2).sum(dim=1)
    if length % 2 == 0:
        x[:, -1] = torch.where(low * 2 == length, torch.zeros_like(x[:, -1]), x[:, -1])
        low = (x < vocab // 2).sum(dim=1)
    return x, (low * 2 > length).long()


@task("contains_token", kind="free")
def contains_token(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """Does token 0 appear? Balanced by planting it in half of the rows."""
    torch.randint(0, vocab, (n, length), generator=g)  # a draw kept so old splits regenerate
    x = torch.randint(1, vocab, (n, length), generator=g)
    plant = torch.rand(n, generator=g) < 0.5
    spot = torch.randint(0, length, (n,), generator=g)
    x[plant, spot[plant]] = 0
    return x, plant.long()
