"""Close a spawned worker's process group before the worker exits.

Lightning registers `destroy_process_group` at exit only for NCCL. A `ddp_spawn`/`ddp_fork` worker
on gloo otherwise exits with its process group alive, and tearing that down during interpreter
shutdown can abort the worker ("terminate called without an active exception", SIGABRT), which
fails the whole run after training succeeded.
"""

from __future__ import annotations

import lightning as L
import torch.distributed as dist
from lightning.pytorch.strategies.launchers import _MultiProcessingLauncher


class ReleaseProcessGroup(L.Callback):
    """At `teardown`, destroy the process group when this process is a worker of Lightning's
    multiprocessing launcher. Its workers end after each `fit`/`test`, and each call spawns new
    ones that initialise their own group. Under `ddp` (re-launched scripts) the same processes run
    fit and test, so the group is left to Lightning there; the parent of spawned workers never
    holds one."""

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        launcher = getattr(trainer.strategy, "launcher", None)
        if isinstance(launcher, _MultiProcessingLauncher) and dist.is_initialized():
            dist.destroy_process_group()
