"""biaslab on a real SLURM cluster: one node, started for the session from the OS packages by
scripts/slurm/local_cluster.sh (munged, slurmctld, slurmd; nothing installed at test time), and
driven as a user drives it: sbatch, srun, scancel, scontrol requeue, Hydra's submitit launcher.
Skipped, saying so, where SLURM is not installed (`apt-get install slurm-wlm munge`)."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "slurm" / "local_cluster.sh"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "scancel", "sinfo")
SMALL = [  # a few batches of digits: each job is seconds of training
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.deterministic=true",
    "extras.print_config=false",
    "data.batch_size=16",
]
COMPARED = ("test/acc", "test/loss", "val/acc_best", "val/loss", "train/loss")
NEVER = ("PartitionConfig", "Resources_Unavailable", "ReqNodeNotAvail")  # pending for ever
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """The running cluster: `env(root)` is what a user's shell has (SLURM_CONF, the venv on
    PATH, BIASLAB_ROOT); `run` runs a command there, from the repository root."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def env(self, root: Path) -> dict[str, str]:
        return {
            **os.environ,
            "SLURM_CONF": str(self.folder / "slurm.conf"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),  # tests.signals, for the preemption test's callback
            "BIASLAB_ROOT": str(root),
            "WANDB_MODE": "offline",
            "OMP_NUM_THREADS": "1",
            # Lightning's SLURM environment takes its port from the job id (10000 + its last 4
            # digits): two workers' clusters both number from 1, so their DDP jobs would meet
            "MASTER_PORT": str(free_port()),
        }

    def run(self, root: Path, *cmd: str, timeout: float = 300) -> str:
        out = subprocess.run(
            cmd, cwd=ROOT, env=self.env(root), capture_output=True, text=True, timeout=timeout
        )
        assert out.returncode == 0, f"{' '.join(cmd)}: {out.stderr[-3000:]}"
        return out.stdout

    def job(self, root: Path, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Restarts, ExitCode, ...)."""
        text = self.run(root, "scontrol", "show", "job", "-o", job_id)
        return dict(f.split("=", 1) for f in text.split() if "=" in f)

    def wait(self, root: Path, job_id: str, timeout: float = 240) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while (info := self.job(root, job_id))["JobState"] not in ENDED:
            state = f"job {job_id} still {info['JobState']} ({info.get('Reason')})"
            assert time.monotonic() < deadline and info.get("Reason") not in NEVER, state
            time.sleep(0.5)
        return info


@pytest.fixture(scope="session")
def slurm():
    """A one-node cluster for the session (about 1 s to start; stopped after)."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        pytest.skip(
            f"SLURM is not installed ({missing[0]} missing): apt-get install slurm-wlm munge"
        )
    # outside pytest's base temp, which a later pytest session may prune while this one runs
    folder = Path(tempfile.mkdtemp(prefix="biaslab-slurm-"))
    out = subprocess.run(
        [str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"the local SLURM cluster did not start: {out.stderr}"
    cluster = Cluster(folder)
    yield cluster
    env = cluster.env(folder)
    subprocess.run(["scancel", "--user", getpass.getuser()], env=env, timeout=60)
    subprocess.run([str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def metrics(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.json").read_text())


def assert_same_metrics(got: dict[str, float], want: dict[str, float]) -> None:
    for key in COMPARED:
        assert got[key] == pytest.approx(want[key], abs=1e-6), key


def plain_run(root: Path, *args: str) -> subprocess.Popen:
    """The same training without SLURM, started now (it runs while the cluster's job does)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(BIASLAB_ROOT=str(root), WANDB_MODE="offline", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "src/train.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> None:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]


def test_a_sweep_is_one_job_array_listed_in_its_summary_and_the_preview_is_what_was_sent(
    slurm, tmp_path
):
    """`-m hydra/launcher=slurm seed=0,1,2`: submitit sends one job array of 3 tasks; every job
    trains and the sweep's summary.md lists each. The script it submitted (in the submitit
    folder) is, byte for byte, what `python -m biaslab.run.slurm` with the same arguments
    printed before: the same sweep dir, folder, array and options."""
    args = [
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=1",
        "hydra.launcher.timeout_min=10",
        "trainer.accelerator=cpu",
        "logger=csv",
        *SMALL,
        "trainer.max_epochs=1",
        "seed=0,1,2",
    ]
    preview = slurm.run(tmp_path, sys.executable, "-m", "biaslab.run.slurm", *args)
    slurm.run(tmp_path, sys.executable, "src/train.py", *args)
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    summary = (sweep / "summary.md").read_text()
    rows = [json.loads(line) for line in (sweep / "summary.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"], rows
    for seed in (0, 1, 2):
        assert f"seed={seed}" in summary
        assert "test/acc" in rows[seed]["metrics"]
    (submitted,) = (sweep / ".submitit").glob("*/*_submission.sh")  # one array job
    assert "#SBATCH --array=0-2%3" in preview
    assert "#SBATCH --gpus-per-node=0" in preview  # trainer.accelerator=cpu: no GPU asked
    assert submitted.read_text() == preview.removesuffix("\n")


def test_ddp_over_two_slurm_tasks_is_one_run_with_the_metrics_of_ddp_without_slurm(slurm, tmp_path):
    """scripts/slurm/train.sbatch for 1 node x 2 CPU tasks (`srun python src/train.py
    trainer=ddp_cpu trainer.devices=2`): SLURM starts both ranks; rank 0 alone takes the run
    dir, writes the config and the one W&B run (offline); the metrics are those of the same
    DDP run started without SLURM (Lightning's own launcher)."""
    from biaslab.run.slurm import sbatch_template
    from biaslab.utils.wandb_files import find_run_files

    plain = plain_run(
        tmp_path / "plain",
        "trainer=ddp_cpu",
        *SMALL,
        "logger=csv",
        "hydra.run.dir=" + str(tmp_path / "plain-run"),
    )
    script = tmp_path / "job.sbatch"
    script.write_text(
        sbatch_template(
            nodes=1,
            gpus_per_node=0,
            tasks_per_node=2,
            overrides=" ".join(SMALL),
            partition="debug",
            hours=1,
            cpus_per_task=1,
            mem_gb=2,
        )
    )
    job_id = slurm.run(
        tmp_path, "sbatch", "--parsable", f"--output={tmp_path}/%j.out", str(script)
    ).strip()
    info = slurm.wait(tmp_path, job_id)
    log = (tmp_path / f"{job_id}.out").read_text()
    assert info["JobState"] == "COMPLETED", log[-3000:]
    (run_dir,) = (tmp_path / "logs" / "slurm").iterdir()
    assert run_dir.name == f"run-{job_id}"
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["slurm"]  # no other dir
    assert (run_dir / "config_resolved.yaml").exists()
    assert sorted(p.name for p in run_dir.glob("config_resolved*.yaml")) == sorted(
        ["config_resolved.yaml", "config_resolved_rank1.yaml"]
    )  # rank 1 records what it ran beside rank 0's config
    assert len(find_run_files(run_dir)) == 1  # one W&B run
    assert (run_dir / "rank_1.log").exists() and "rank_1" not in (run_dir / "train.log").read_text()
    assert "in use by a live run" not in log
    finish(plain)
    assert_same_metrics(metrics(run_dir), metrics(tmp_path / "plain-run"))


@pytest.mark.parametrize("signal", ["TERM", pytest.param("USR1", marks=pytest.mark.slow)])
def test_a_preempted_job_requeued_resumes_from_its_checkpoint_to_the_uninterrupted_result(
    slurm, tmp_path, signal
):
    """A job stopped inside a train batch (epoch 0's first of 3, of 2 epochs) the way SLURM
    preempts it (SIGTERM to its tasks: last.ckpt and preempted.txt, exit 0), then `scontrol
    requeue`: the same job id runs again in its own run dir, resumes from that checkpoint with
    the rest of that epoch's batches in the same order, and ends with the metrics of an
    uninterrupted run. (Before, a stop inside an epoch redrew the rest of its batches: only a
    stop at an epoch's end matched.) SIGUSR1 (the template's warning before the time limit):
    Lightning's own handler, called after the save, writes `hpc_ckpt_1.ckpt` and requeues the
    job itself; the requeued run resumes from last.ckpt and removes that file."""
    import torch

    from biaslab.run.slurm import sbatch_template

    ready = tmp_path / "ready"
    wait = [  # stand still in epoch 0's first train batch (first session only) until signalled
        "+callbacks.wait._target_=tests.signals.WaitForSignalAt",
        f"+callbacks.wait.ready={ready}",
        "+callbacks.wait.hook=on_train_batch_start",
        "+callbacks.wait.epoch=0",
    ]
    plain = plain_run(
        tmp_path / "plain",
        "trainer=ddp_cpu",
        "trainer.devices=1",
        *SMALL,
        "logger=csv",
        f"hydra.run.dir={tmp_path / 'plain-run'}",
    )
    script = tmp_path / "job.sbatch"
    script.write_text(
        sbatch_template(
            nodes=1,
            gpus_per_node=0,
            tasks_per_node=1,
            overrides=" ".join([*SMALL, "logger=csv", *wait]),
            partition="debug",
            hours=1,
            cpus_per_task=1,
            mem_gb=2,
        )
    )
    sbatch = ["sbatch", "--parsable", f"--output={tmp_path}/%j.out", str(script)]
    job_id = slurm.run(tmp_path, *sbatch).strip()
    deadline = time.monotonic() + 240
    while not ready.exists():
        assert slurm.job(tmp_path, job_id)["JobState"] not in ENDED, "ended before its signal"
        assert time.monotonic() < deadline, "never reached its first train batch"
        time.sleep(0.3)
    slurm.run(tmp_path, "scancel", f"--signal={signal}", job_id)
    run_dir = tmp_path / "logs" / "slurm" / f"run-{job_id}"
    if signal == "TERM":
        assert slurm.wait(tmp_path, job_id)["JobState"] == "COMPLETED"  # stopped cleanly
        assert "SIGTERM at step" in (run_dir / "preempted.txt").read_text()
        assert not (run_dir / "metrics.json").exists()
        last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
        assert last["global_step"] == 1  # inside epoch 0, not at its end
        slurm.run(tmp_path, "scontrol", "requeue", job_id)
    deadline = time.monotonic() + 240
    while (info := slurm.job(tmp_path, job_id))["Restarts"] != "1" or info["JobState"] not in ENDED:
        assert time.monotonic() < deadline, f"requeued job {job_id} still {info['JobState']}"
        time.sleep(0.5)
    log = (tmp_path / f"{job_id}.out").read_text()
    assert info["JobState"] == "COMPLETED", log[-3000:]
    assert "Resuming from" in log and str(run_dir / "checkpoints" / "last.ckpt") in log
    assert [p.name for p in (tmp_path / "logs" / "slurm").iterdir()] == [run_dir.name]
    assert not (run_dir / "preempted.txt").exists()
    assert list(run_dir.glob("hpc_ckpt_*")) == []
    if signal == "USR1":  # requeued by Lightning's handler, whose checkpoint is gone
        assert f"Removed {run_dir / 'hpc_ckpt_1.ckpt'}" in log, log[-3000:]
    finish(plain)
    assert_same_metrics(metrics(run_dir), metrics(tmp_path / "plain-run"))


@pytest.mark.parametrize(
    ("env", "devices", "nodes", "says"),
    [
        ({"SLURM_NTASKS": "2"}, 2, 1, "--ntasks-per-node=<trainer.devices>"),
        ({"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2"}, 1, 1, "trainer.devices=2"),
        (
            {"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "2"},
            2,
            1,
            "--nodes=2",
        ),
    ],
)
def test_slurm_task_counts_are_checked_before_training(env, devices, nodes, says):
    """What SLURM set (sbatch --ntasks=2 alone; 2 tasks per node for 1 device; 2 nodes for
    num_nodes=1) against the trainer: one sentence naming the fix, before anything trains."""
    from biaslab.errors import ConfigError
    from biaslab.run.slurm import check_tasks

    with pytest.raises(ConfigError) as err:
        check_tasks(devices, nodes, {"SLURM_JOB_NAME": "train", **env})
    assert says in str(err.value)
    check_tasks(devices, nodes, {"SLURM_JOB_NAME": "interactive", **env})  # Lightning's opt-out
    check_tasks(2, 2, {"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "2"})


def test_the_slurm_launcher_without_slurm_says_so_in_one_sentence(tmp_path):
    """No `srun` on PATH: submitit's own cause, in one sentence, exit 2, no traceback."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "BIASLAB_ROOT": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "src/train.py", "-m", "hydra/launcher=slurm", "seed=0,1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("Error: hydra/launcher=slurm needs SLURM, and submitit could not")
    assert 'detect "srun"' in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
