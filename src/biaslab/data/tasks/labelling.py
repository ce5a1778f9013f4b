"""Sequence labelling (one label per token, for `pooling=tokens`): `rises` needs only relative
order, `parity_at_position` needs absolute positions."""

from __future__ import annotations

import torch

from biaslab.data.tasks import task


@task("rises", kind="labelling")
def rises(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """label_i = x_i > x_(i-1); the first token has no predecessor: 0."""
    x = torch.randint(0, vocab, (n, length), generator=g)
    first = torch.zeros(n, 1, dtype=torch.long)
    return x, torch.cat([first, (x.diff(dim=1) > 0).long()], 1)


@task("parity_at_position", kind="labelling")
def parity_at_position(n: int, length: int, vocab: int, g: torch.Generator, k: int):
    """label_i = (x_i + i) mod 2."""
    x = torch.randint(0, vocab, (n, length), generator=g)
    return x, (x + torch.arange(length)) % 2
