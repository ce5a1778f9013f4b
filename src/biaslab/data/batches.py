"""Batches drawn by index from tensors held in memory, in a seeded order per epoch, resumable
mid-epoch: Lightning saves the train loader's `state_dict()` in every checkpoint (its fit loop
checkpoints a loader that has `state_dict` / `load_state_dict`) and hands it back on resume, so
a run stopped inside an epoch goes on with the same epoch's remaining batches, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

Split = tuple[torch.Tensor, torch.Tensor]


class EpochSampler:
    """Holds the epoch that Lightning sets each epoch, so shuffles differ per epoch yet repeat."""

    def __init__(self) -> None:
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class TensorBatches:
    """Iterable of (inputs[idx], targets[idx]) batches; this rank's shard when world_size > 1.

    Stateful: `state_dict()` is {"epoch", "batches"} (how many batches of that epoch's order
    this loader has handed out); after `load_state_dict`, the first pass over the same epoch
    skips those batches, so a resumed epoch draws exactly the batches it had not drawn."""

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.sampler = EpochSampler()
        self.batch_sampler = None  # read by Lightning's shuffle check
        self.drawn = 0  # batches of the current pass handed out so far
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip) once

    def _indices(self) -> torch.Tensor:
        n = len(self.inputs)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.sampler.epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        per_rank = n // self.world_size if self.world_size > 1 else n
        return order[self.rank :: self.world_size][:per_rank].to(self.inputs.device)

    def __len__(self) -> int:
        n = len(self.inputs) // self.world_size
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        """Where this loader stands: the epoch (its order's seed) and the batches drawn of it."""
        return {"epoch": int(self.sampler.epoch), "batches": int(self.drawn)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Skip `state["batches"]` batches on the next pass, if that pass is the same epoch."""
        self._resume = (int(state["epoch"]), int(state["batches"]))

    def _skip(self) -> int:
        """Batches to skip on this pass (read when it starts: Lightning sets the epoch after
        it calls `iter()`, before the first batch), once."""
        resume, self._resume = self._resume, None
        if resume is None or resume[0] != self.sampler.epoch or resume[1] >= len(self):
            return 0
        return resume[1]

    def __iter__(self) -> Iterator[Split]:
        order = self._indices()
        self.drawn = self._skip()
        for start in range(
            self.drawn * self.batch_size, len(self) * self.batch_size, self.batch_size
        ):
            idx = order[start : start + self.batch_size]
            self.drawn += 1
            yield self.inputs[idx], self.targets[idx]
