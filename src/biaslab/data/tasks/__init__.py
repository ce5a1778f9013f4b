"""The registry of sequence tasks: one module per family of tasks in this package, each task a
function `(n, length, vocab, g, k) -> (inputs (n, length) long, targets (n,) or (n, length))`
registered with `@task(name, ...)`. Every module here is imported when the registry is first
read, so adding a task is adding a file (and a `conf/data/seq_<name>.yaml` to select it).

A task declares what the data module and the tests must know of it:
- `kind`: `order` (pairs whose negative is a permutation of its positive: only the order tells
  the classes apart), `free` (depends on the multiset of tokens alone) or `labelling` (one
  label per token, for `pooling=tokens`);
- `distinct`: it draws distinct tokens, so it needs `vocab_size >= length`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import torch

Generate = Callable[[int, int, int, torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
KINDS = ("order", "free", "labelling")


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    generate: Generate
    distinct: bool = False

    @property
    def labelling(self) -> bool:
        return self.kind == "labelling"


_TASKS: dict[str, Task] = {}


def task(name: str, kind: str, distinct: bool = False) -> Callable[[Generate], Generate]:
    """Register the decorated generator as the sequence task `name`."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: choose one of {KINDS}.")

    def register(fn: Generate) -> Generate:
        if name in _TASKS:
            raise ValueError(f"task={name!r} is registered twice; give the new task another name.")
        _TASKS[name] = Task(name, kind, fn, distinct)
        return fn

    return register


def tasks() -> dict[str, Task]:
    """Every registered task, by name (imports this package's modules once)."""
    if not _TASKS:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(_TASKS)


def get(name: str) -> Task:
    found = tasks()
    if name not in found:
        raise ValueError(f"task={name!r}: choose one of {', '.join(sorted(found))}.")
    return found[name]


def distinct_rows(n: int, length: int, vocab: int, g: torch.Generator) -> torch.Tensor:
    """(n, length) rows of distinct tokens (needs vocab >= length)."""
    return torch.rand(n, vocab, generator=g).argsort(dim=1)[:, :length]


def pairs(pos: torch.Tensor, neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack positives (label 1) and their permuted negatives (label 0)."""
    x = torch.cat([pos, neg])
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).long()
    return x, y
