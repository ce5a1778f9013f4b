"""A spawned DDP worker closes its process group before it exits; other processes keep theirs."""

from __future__ import annotations

import lightning as L
import pytest
import torch.distributed as dist

from biaslab.callbacks.distributed import ReleaseProcessGroup


@pytest.fixture
def gloo_group(tmp_path):
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def trainer(strategy: str) -> L.Trainer:
    return L.Trainer(
        strategy=strategy,
        devices=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )


def test_a_spawned_worker_destroys_its_process_group_at_teardown(gloo_group):
    ReleaseProcessGroup().teardown(trainer("ddp_spawn"), L.LightningModule(), "test")
    assert not dist.is_initialized()


def test_a_relaunched_ddp_process_keeps_its_group_for_the_next_stage(gloo_group):
    ReleaseProcessGroup().teardown(trainer("ddp"), L.LightningModule(), "fit")
    assert dist.is_initialized()
