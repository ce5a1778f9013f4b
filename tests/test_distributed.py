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


SRUN_TASK = {  # what srun sets in each task of `sbatch --nodes=2 --ntasks-per-node=2` + `srun`
    "SLURM_JOB_NAME": "train",
    "SLURM_STEP_ID": "0",
    "SLURM_NTASKS": "4",
    "SLURM_STEP_NUM_TASKS": "4",
    "SLURM_NNODES": "2",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (0, 0, 1, 0)),  # one process, no launcher
        ({"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "GROUP_RANK": "2"}, (5, 1, 8, 2)),
        (
            {**SRUN_TASK, "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"},
            (0, 0, 4, 0),
        ),
        (
            {**SRUN_TASK, "SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NODEID": "0"},
            (1, 1, 4, 0),
        ),
        # the second node's first task: local rank 0, not global rank 0
        (
            {**SRUN_TASK, "SLURM_PROCID": "2", "SLURM_LOCALID": "0", "SLURM_NODEID": "1"},
            (2, 0, 4, 1),
        ),
        # Lightning's subprocess launcher: its child on node 0, then node 1's first process
        ({"LOCAL_RANK": "1", "NODE_RANK": "0", "WORLD_SIZE": "2"}, (1, 1, 2, 0)),
        (
            {"LOCAL_RANK": "0", "NODE_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"},
            (2, 0, 4, 1),
        ),
    ],
)
def test_the_rank_comes_from_whoever_started_the_process(env, expected):
    from biaslab.utils.rank import rank

    got = rank(env)
    assert (got.global_rank, got.local_rank, got.world_size, got.node_rank) == expected
    assert got.is_zero == (expected[0] == 0)


def test_a_node_other_than_the_first_is_never_rank_zero():
    """Lightning's variables do not say how many processes a node runs: node 1's first
    process (NODE_RANK set by the user, before Lightning's launcher sets the rest) still is not
    the run's owner."""
    from biaslab.utils.rank import rank

    assert not rank({"NODE_RANK": "1"}).is_zero
    assert not rank({"NODE_RANK": "1", "LOCAL_RANK": "0", "WORLD_SIZE": "4"}).is_zero


@pytest.mark.parametrize(
    "env",
    [
        # the batch script itself, in an allocation of 2 tasks: one process (no srun step)
        {"SLURM_JOB_NAME": "train", "SLURM_NTASKS": "2", "SLURM_PROCID": "0"},
        # a one-task step of a 2-task allocation
        {
            "SLURM_JOB_NAME": "t",
            "SLURM_STEP_ID": "0",
            "SLURM_NTASKS": "1",
            "SLURM_STEP_NUM_TASKS": "1",
        },
        # `srun --job-name=interactive`: Lightning's opt-out of its SLURM environment
        {**SRUN_TASK, "SLURM_JOB_NAME": "interactive", "SLURM_PROCID": "3"},
    ],
)
def test_slurm_ranks_count_only_inside_a_multi_task_srun_step(env):
    from biaslab.utils.rank import rank, slurm_step

    assert not slurm_step(env)
    assert rank(env) == rank({})
    child = rank({**env, "LOCAL_RANK": "1", "WORLD_SIZE": "2"})  # Lightning's child, in SLURM
    assert (child.global_rank, child.world_size) == (1, 2)


def test_an_srun_rank_above_zero_keeps_its_command_but_logs_on_its_own(monkeypatch):
    """srun starts every rank with the user's own command: rank 1 keeps it (its config is the
    same), logs to rank_1.log and leaves .hydra/ to rank 0; rank 0 and sweeps are untouched."""
    from biaslab.run.sweep import redirect_ddp_child

    for key, value in {**SRUN_TASK, "SLURM_PROCID": "1", "SLURM_LOCALID": "1"}.items():
        monkeypatch.setenv(key, value)
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "BIASLAB_JOB_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    argv = ["src/train.py", "trainer=ddp_cpu", "hydra.run.dir=D"]
    extra = ["hydra.output_subdir=null", "hydra.job.name=rank_1"]
    assert redirect_ddp_child(argv) == [*argv, *extra]
    named = ["src/train.py", "hydra.job.name=x"]  # the user's own name wins
    assert redirect_ddp_child(named) == [*named, "hydra.output_subdir=null"]
    assert redirect_ddp_child(["src/train.py", "-m", "seed=0,1"]) == [
        "src/train.py",
        "-m",
        "seed=0,1",
    ]
    monkeypatch.setenv("SLURM_PROCID", "0")
    assert redirect_ddp_child(argv) == argv


def test_the_default_run_dir_is_shared_by_the_tasks_of_an_srun_step(monkeypatch):
    """Each srun task composes its own config: the default run dir must not be its own clock's;
    a requeue keeps the job id, so it names the same dir again."""
    import re

    from biaslab.utils.resolvers import run_name

    for key in ("SLURM_STEP_ID", "SLURM_STEPID", "SLURM_NTASKS", "SLURM_ARRAY_JOB_ID"):
        monkeypatch.delenv(key, raising=False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[0-9a-f]{6}", run_name())
    for key, value in {**SRUN_TASK, "SLURM_JOB_ID": "42", "SLURM_PROCID": "1"}.items():
        monkeypatch.setenv(key, value)
    assert run_name() == "slurm-42.0"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "40")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    assert run_name() == "slurm-40_2.0"
