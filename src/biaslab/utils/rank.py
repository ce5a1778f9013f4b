"""Which process of a run this is: one answer for every launcher, read from the environment.

Exactly one process per run (global rank 0) takes the run dir's lock, writes its config and
starts W&B, on one node or several. The rank comes from whoever started the process:

1. torchrun (torchelastic): `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `GROUP_RANK`;
2. a multi-task `srun` step (SLURM starts every rank; Lightning's SLURM environment wires them):
   `SLURM_PROCID`, `SLURM_LOCALID`, `SLURM_STEP_NUM_TASKS` (or `SLURM_NTASKS`), `SLURM_NODEID`.
   Only inside an srun step of more than one task: a batch script itself, or a one-task step,
   is one process whatever the allocation's size (Lightning's "interactive"/"bash" job names
   opt out, as in Lightning);
3. Lightning's own subprocess launcher: `LOCAL_RANK`, `NODE_RANK` (or `GROUP_RANK`),
   `WORLD_SIZE`; a node's first process, before it launches the others, has only `NODE_RANK`.

Local rank 0 on the second node is not global rank 0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

INTERACTIVE_JOB_NAMES = ("bash", "interactive")  # Lightning's opt-out of its SLURM environment


@dataclass(frozen=True)
class Rank:
    """global_rank in [0, world_size); local_rank: on this node; node_rank: this node's index."""

    global_rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    node_rank: int = 0

    @property
    def is_zero(self) -> bool:
        """The one process that owns the run: lock, config, W&B, metrics."""
        return self.global_rank == 0


def _int(env: Mapping[str, str], *keys: str, default: int = 0) -> int:
    for key in keys:
        value = env.get(key)
        if value not in (None, ""):
            return int(value)
    return default


def slurm_step(env: Mapping[str, str] | None = None) -> bool:
    """Is this process one task of a multi-task srun step (SLURM started the ranks)?"""
    env = os.environ if env is None else env
    if "SLURM_STEP_ID" not in env and "SLURM_STEPID" not in env:
        return False
    if env.get("SLURM_JOB_NAME") in INTERACTIVE_JOB_NAMES:
        return False
    return _int(env, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", default=1) > 1


def rank(env: Mapping[str, str] | None = None) -> Rank:
    """This process's rank (os.environ unless `env` is given: the tests pass dicts)."""
    env = os.environ if env is None else env
    if "RANK" in env and "WORLD_SIZE" in env:  # torchrun
        return Rank(
            _int(env, "RANK"),
            _int(env, "LOCAL_RANK"),
            _int(env, "WORLD_SIZE", default=1),
            _int(env, "GROUP_RANK", "NODE_RANK"),
        )
    if slurm_step(env):
        return Rank(
            _int(env, "SLURM_PROCID"),
            _int(env, "SLURM_LOCALID"),
            _int(env, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", default=1),
            _int(env, "SLURM_NODEID"),
        )
    local = _int(env, "LOCAL_RANK")
    node = _int(env, "NODE_RANK", "GROUP_RANK")
    world = _int(env, "WORLD_SIZE", default=1)
    # Lightning's variables do not say how many processes a node runs: LOCAL_WORLD_SIZE when
    # set, else the whole world (exact on one node; on node > 0 still never rank 0)
    per_node = _int(env, "LOCAL_WORLD_SIZE", default=world)
    return Rank(node * per_node + local, local, max(world, node * per_node + local + 1), node)
