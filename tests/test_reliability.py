"""Nothing lost: SIGKILL + resume, SIGTERM, NaN, interrupted saves, unwritable folders, offline W&B."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from biaslab.errors import ConfigError
from tests.conftest import ROOT

RUN = [
    "logger=wandb",
    "trainer.deterministic=true",
    "trainer.max_epochs=12",
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
]


def start(root: Path, *args: str) -> subprocess.Popen:
    # each run gets its own W&B service: an inherited WANDB_SERVICE (set by W&B in this pytest
    # process after an in-process run) would let the test's service outlive the killed run
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_SERVICE")}
    env.update({"BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"})
    return subprocess.Popen(
        [sys.executable, "src/train.py", *args],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(pattern: str, root: Path, proc: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        assert proc.poll() is None, (
            f"finished before {pattern} appeared: {proc.stderr.read()[-2000:]}"
        )
        time.sleep(0.02)
    raise TimeoutError(pattern)


def finish(proc: subprocess.Popen, timeout: float = 300) -> None:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]


def run_dirs(root: Path) -> list[Path]:
    return sorted((root / "logs" / "train" / "runs").iterdir())


def test_sigkill_then_same_command_resumes_to_the_same_result(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    finish(start(whole, *RUN))
    proc = start(killed, *RUN)
    last = wait_for("logs/train/runs/*/checkpoints/last.ckpt", killed, proc)
    os.killpg(
        proc.pid, signal.SIGKILL
    )  # the whole job, as a scheduler or the OOM killer of a cgroup does
    proc.wait()
    (run_dir,) = run_dirs(killed)
    assert not (run_dir / "metrics.json").exists()  # it really died mid-run
    step_at_kill = torch.load(last, weights_only=True)["global_step"]
    wandb_id = (run_dir / "wandb_id.txt").read_text()

    finish(start(killed, *RUN))  # the same command
    dirs = run_dirs(killed)
    assert len(dirs) == 2 and (dirs[1] / "resumed_in.txt").read_text().strip() == str(run_dir)
    assert (run_dir / "wandb_id.txt").read_text() == wandb_id
    from biaslab.utils.wandb_files import find_run_files

    ids = {f.stem.removeprefix("run-") for f in find_run_files(run_dir)}
    assert ids == {wandb_id}  # both sessions logged to one W&B run
    resumed = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    (whole_dir,) = run_dirs(whole)
    uninterrupted = torch.load(whole_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert 0 < step_at_kill < resumed["global_step"] == uninterrupted["global_step"]
    got = json.loads((run_dir / "metrics.json").read_text())
    want = json.loads((whole_dir / "metrics.json").read_text())
    for key in ("test/acc", "test/loss", "val/acc_best", "val/loss", "train/loss"):
        assert got[key] == pytest.approx(want[key], abs=1e-6), key


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    proc = start(tmp_path, *RUN, "trainer.max_epochs=200", "logger=csv")
    wait_for("logs/train/runs/*/checkpoints/last.ckpt", tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    finish(proc, timeout=60)
    (run_dir,) = run_dirs(tmp_path)
    assert "SIGTERM at step" in (run_dir / "preempted.txt").read_text()
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert 0 < state["global_step"] < 200 * 19
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_sigterm_under_ddp_stops_every_rank_together_and_resumes(tmp_path):
    """Two gloo ranks, SIGTERM to every process of the job (as SLURM sends it): all ranks save
    and stop at one step, the job exits 0, and the same command finishes every step."""
    ddp = [*RUN, "trainer=ddp_cpu", "logger=csv", "trainer.max_epochs=10"]
    proc = start(tmp_path, *ddp)
    wait_for("logs/train/runs/*/checkpoints/last.ckpt", tmp_path, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    finish(proc, timeout=90)
    (run_dir,) = run_dirs(tmp_path)
    assert "SIGTERM at step" in (run_dir / "preempted.txt").read_text()
    assert not (run_dir / "metrics.json").exists()
    stopped_at = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]

    finish(start(tmp_path, *ddp))
    final = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    rows = (run_dir / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    epoch0 = next(r.split(",") for r in rows[1:] if r.split(",")[header.index("epoch")] == "0")
    steps_per_epoch = int(epoch0[header.index("step")]) + 1  # logged at epoch 0's last step
    assert 0 < stopped_at < final == 10 * steps_per_epoch  # no step of the interrupted epoch lost
    assert (run_dir / "metrics.json").exists() and not (run_dir / "preempted.txt").exists()


@pytest.mark.parametrize(
    "hook,name",
    [
        ("on_train_batch_start", "SIGTERM"),
        ("on_validation_batch_start", "SIGTERM"),
        ("on_validation_end", "SIGTERM"),
        ("on_train_batch_start", "SIGUSR1"),
    ],
)
def test_a_signal_anywhere_in_fit_saves_and_the_run_resumes(train_fast, tmp_path, hook, name):
    """A signal in a train batch, mid-validation or at an epoch's end (where Lightning's own
    loops raise SIGTERMException) leaves a checkpoint and a marker, and the resumed run does
    every remaining step: none of the interrupted epoch is skipped."""
    run = ["trainer.max_epochs=3", "trainer.limit_val_batches=2", "trainer.limit_test_batches=1"]
    signal_at = [
        "+callbacks.signal._target_=tests.signals.SignalAt",
        f"+callbacks.signal.hook={hook}",
        f"+callbacks.signal.name={name}",
    ]
    assert train_fast(*run, *signal_at)
    assert f"{name} at step" in (tmp_path / "preempted.txt").read_text()
    assert not (tmp_path / "metrics.json").exists()
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert 3 <= torch.load(last, weights_only=True)["global_step"] <= 6  # in epoch 2 of 3

    metrics = train_fast(*run, f"ckpt_path={last}")
    assert torch.load(last, weights_only=True)["global_step"] == 3 * 3
    assert json.loads((tmp_path / "metrics.json").read_text())["test/acc"] == metrics["test/acc"]
    assert not (tmp_path / "preempted.txt").exists()
    with (tmp_path / "csv" / "metrics.csv").open() as f:  # the first session's rows are kept
        logged = {row["epoch"] for row in csv.DictReader(f) if row["train/loss"]}
    assert logged == {"0", "1", "2"}


@pytest.mark.parametrize("name", ["SIGUSR1", pytest.param("SIGTERM", marks=pytest.mark.slow)])
def test_a_run_stopped_inside_an_epoch_resumes_to_the_uninterrupted_result(
    train_fast, tmp_path, name
):
    """A signal in epoch 1's first train batch (of 3, of 3 epochs): last.ckpt holds the train loader's place
    (epoch 1, 1 batch drawn), and the resumed run draws that epoch's other 2 batches in the same
    order, so every metric equals the uninterrupted run's. (Before: the rest of the epoch came
    from a fresh pass over its order, its first batch again, and the metrics differed.)"""
    # 3 epochs: the last one's train/* means then cover a whole epoch in both runs (Lightning
    # does not checkpoint a logged epoch mean: the interrupted epoch's covers its resumed part)
    run = ["trainer.max_epochs=3", "trainer.deterministic=true"]
    whole = train_fast(*run, path=tmp_path / "whole")
    cut = tmp_path / "cut"
    signal_at = [
        "+callbacks.signal._target_=tests.signals.SignalAt",
        "+callbacks.signal.hook=on_train_batch_start",
        f"+callbacks.signal.name={name}",
    ]
    train_fast(*run, *signal_at, path=cut)
    last = cut / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    assert state["global_step"] == 4 and not (cut / "metrics.json").exists()  # inside epoch 1
    assert state["DigitsDataModule"] == {"train_batches": {"epoch": 1, "batches": 1}}
    resumed = train_fast(*run, f"ckpt_path={last}", path=cut)
    compared = sorted(k for k in whole if not k.startswith("time/"))
    assert {"train/loss", "val/loss", "test/acc", "test_last/loss", "gap/acc"} <= set(compared)
    assert {k: resumed[k] for k in compared} == {k: whole[k] for k in compared}


@pytest.mark.parametrize("resume", ["auto", pytest.param("never", marks=pytest.mark.slow)])
def test_lightnings_slurm_checkpoint_is_removed_and_last_ckpt_resumed(
    train_fast, tmp_path, monkeypatch, caplog, resume
):
    """In a SLURM job (Lightning's SLURM environment: its variables), SIGUSR1 in a train batch:
    Preemption saves last.ckpt and hands the signal on to Lightning's own handler, which saves
    `hpc_ckpt_1.ckpt` in the run dir and runs `scontrol requeue` (which fails here: no cluster).
    The same command resumes from last.ckpt and removes the hpc file; with resume=never the run
    starts afresh (before: Lightning, given no checkpoint on SLURM, restored the hpc file)."""
    import logging

    slurm = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "4242"}
    for key, value in {**slurm, "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SLURM_NODEID", "0")
    run = ["trainer.max_epochs=2"]
    signal_at = [
        "+callbacks.signal._target_=tests.signals.SignalAt",
        "+callbacks.signal.hook=on_train_batch_start",
        "+callbacks.signal.name=SIGUSR1",
    ]
    train_fast(*run, *signal_at)
    assert "SIGUSR1 at step 4" in (tmp_path / "preempted.txt").read_text()
    hpc = tmp_path / "hpc_ckpt_1.ckpt"
    assert hpc.is_file()  # Lightning's handler ran (the route is real)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        metrics = train_fast(*run, f"resume={resume}")  # the same command (or resume=never)
    restored = [r.getMessage() for r in caplog.records if "Restor" in r.getMessage()]
    fit_from = [m for m in restored if "last.ckpt" in m or "hpc_ckpt" in m]
    if resume == "auto":
        assert fit_from and all(str(tmp_path / "checkpoints" / "last.ckpt") in m for m in fit_from)
    else:
        assert fit_from == [], fit_from
    assert not hpc.exists() and sorted(tmp_path.glob("hpc_ckpt_*")) == []
    assert metrics["time/steps"] == 2 * 3 and (tmp_path / "metrics.json").exists()


def test_last_checkpoint_is_the_latest_epoch_even_when_val_acc_stalls(train_fast, tmp_path):
    """Lightning's `save_last` writes only when a top-k checkpoint is written; after the best
    epoch a resumed run would go back to it. biaslab's last.ckpt follows every epoch."""
    # lr 1e-12 (0 is refused) and no BatchNorm (whose statistics still move): val/acc stays
    train_fast("model=vit", "optimizer.lr=1e-12", "trainer.max_epochs=3")
    ckpts = tmp_path / "checkpoints"
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 3 * 3
    # val/acc ties every epoch: the best checkpoint is the later epoch's
    assert sorted(p.name for p in ckpts.glob("*.ckpt")) == ["epoch_002.ckpt", "last.ckpt"]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(train_fast, tmp_path):
    """Checked every step (the CPU default) and read from the device only every 1000 steps (as on
    an accelerator, where each read is a host sync): the same step is named, no NaN is saved."""
    import re

    from biaslab.callbacks.reliability import NonFiniteLossError

    steps = []
    for every in ("null", "1000"):
        with pytest.raises(NonFiniteLossError) as err:  # lr x 1e30 after a third of the run
            train_fast(
                "optimizer=sgd",
                "scheduler=step",
                "scheduler.gamma=1e30",
                "trainer.max_epochs=6",
                "trainer.limit_train_batches=null",
                "trainer.limit_val_batches=null",
                f"extras.nan_check_every_n_steps={every}",
                path=tmp_path / every,
            )
        message = str(err.value)
        assert "non-finite training loss" in message and "learning rate" in message
        assert "learning rate nan" not in message
        steps.append(int(re.search(r"at step (\d+)", message).group(1)))
        ckpts = sorted((tmp_path / every / "checkpoints").glob("*.ckpt"))
        assert ckpts, "a checkpoint from before the blow-up should exist"
        for path in ckpts:
            state = torch.load(path, weights_only=True)
            assert state["global_step"] < steps[-1]
            weights = state["state_dict"].values()
            assert all(torch.isfinite(t).all() for t in weights if t.is_floating_point())
    assert steps[0] == steps[1]


@pytest.mark.slow
def test_nan_job_is_marked_failed_in_the_sweep_summary(tmp_path):
    from biaslab.run.sweep import read_summary

    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path)}
    subprocess.run(
        [
            sys.executable,
            "src/train.py",
            "-m",
            "optimizer=sgd",
            "optimizer.lr=0.05,1e38",
            "logger=csv",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=5",
            "extras.print_config=false",
            "trainer.enable_progress_bar=false",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=300,
    )
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    rows = read_summary(sweep)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "NonFiniteLossError: non-finite training loss" in rows[1]["error"]


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path):
    from biaslab.utils.checkpoint_io import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError, match="killed mid-save"):
        io.save_checkpoint({"step": 2, "w": torch.zeros(10_000), "x": Boom()}, path)
    assert io.load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left behind


def test_sigkill_during_saves_never_truncates(tmp_path):
    code = (
        "import torch, sys; from biaslab.utils.checkpoint_io import AtomicCheckpointIO\n"
        "io = AtomicCheckpointIO()\n"
        "i = 0\n"
        "while True:\n"
        "    io.save_checkpoint({'i': i, 'w': torch.full((2_000_000,), float(i))}, sys.argv[1]); i += 1\n"
    )
    path = tmp_path / "last.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)])
    deadline = time.time() + 60
    while not path.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.7)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = torch.load(path, weights_only=True)
    assert torch.all(state["w"] == state["i"])


def test_unwritable_output_dir_is_a_clear_error(train_fast, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"paths\.output_dir=.*a_file/run is not writable"):
        train_fast(path=blocker / "run")


def test_unwritable_wandb_dir_is_a_clear_error(train_fast, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"logger\.wandb\.save_dir=.*is not writable"):
        train_fast("logger=wandb", f"logger.wandb.save_dir={blocker}")
    # W&B's early start (a background thread) does not outlive the failed job
    assert not [t for t in threading.enumerate() if t.name == "wandb-start"]


def test_wandb_online_without_network_falls_back_to_offline(
    train_fast, tmp_path, monkeypatch, caplog
):
    from biaslab.utils.wandb_files import find_run_files

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    with caplog.at_level("WARNING", logger="biaslab"):
        train_fast("logger=wandb")
    assert "cannot be reached: logging offline" in caplog.text
    assert len(find_run_files(tmp_path)) == 1


LIVE = [
    "logger=csv",
    "trainer.max_epochs=300",
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
]


@pytest.mark.slow
def test_a_second_identical_command_during_a_live_run_starts_its_own_dir(tmp_path):
    first = start(tmp_path, *LIVE)
    try:
        wait_for("logs/train/runs/*/checkpoints/last.ckpt", tmp_path, first)
        second = start(tmp_path, *LIVE)
        try:
            wait_for("logs/train/runs/*/.lock", tmp_path, second)  # the first's is there already
            deadline = time.time() + 60
            while len(run_dirs(tmp_path)) < 2 and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(3)  # the second has decided by the time it trains
            dirs = run_dirs(tmp_path)
            assert len(dirs) == 2
            assert not any(
                (d / "resumed_in.txt").exists() for d in dirs
            )  # nobody adopted the live one
        finally:
            os.killpg(second.pid, signal.SIGKILL)
    finally:
        os.killpg(first.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_killed_runs_lock_is_free_and_an_explicit_run_dir_is_honoured(tmp_path):
    killed = start(tmp_path, *LIVE)
    wait_for("logs/train/runs/*/checkpoints/last.ckpt", tmp_path, killed)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    (sibling,) = run_dirs(tmp_path)
    from biaslab.run.files import RunDir

    assert RunDir(sibling).lock.exists() and not RunDir(sibling).live  # released by the kernel
    explicit = tmp_path / "logs" / "train" / "runs" / "mine"
    finish(
        start(
            tmp_path, *LIVE[1:], "logger=csv", "trainer.max_epochs=1", f"hydra.run.dir={explicit}"
        )
    )
    assert (explicit / "metrics.json").exists() and not (explicit / "resumed_in.txt").exists()
    assert not (sibling / "metrics.json").exists()  # the unrelated sibling was left alone


@pytest.mark.slow
def test_a_cut_sweep_resumes_without_rerunning_finished_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    cmd = ["-m", "seed=0,1,2", f"hydra.sweep.dir={sweep}", *LIVE]
    cmd[cmd.index("trainer.max_epochs=300")] = "trainer.max_epochs=12"
    proc = start(tmp_path, *cmd)
    wait_for("sweep/1/checkpoints/last.ckpt", tmp_path, proc)
    wait_for("sweep/1/history.csv", tmp_path, proc)  # its first epoch's row is written (see note)
    os.killpg(proc.pid, signal.SIGKILL)  # the machine stops mid-sweep
    proc.wait()
    done_before = (sweep / "0" / "metrics.json").stat().st_mtime_ns
    assert not (sweep / "1" / "metrics.json").exists()
    step_at_cut = torch.load(sweep / "1" / "checkpoints" / "last.ckpt", weights_only=True)[
        "global_step"
    ]
    finish(start(tmp_path, *cmd))  # the same command
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == done_before  # not run again
    with open(sweep / "1" / "history.csv") as f:
        epochs = [int(r["epoch"]) for r in csv.DictReader(f)]
    assert epochs == list(range(12))  # resumed: each epoch once, the cut ones not repeated
    assert 0 < step_at_cut < json.loads((sweep / "1" / "metrics.json").read_text())["time/steps"]
    assert (sweep / "2" / "metrics.json").exists()


@pytest.mark.slow
def test_a_sweep_dir_whose_grid_changed_is_refused_not_mixed(tmp_path):
    """Job 0 of `seed=1` is not job 0 of `seed=0`: the finished run is kept and named, not reused."""
    from biaslab.run.sweep import read_summary

    sweep = tmp_path / "sweep"
    base = [
        sys.executable,
        "src/train.py",
        "-m",
        f"hydra.sweep.dir={sweep}",
        "logger=csv",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "extras.print_config=false",
        "trainer.enable_progress_bar=false",
    ]
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path)}
    subprocess.run(
        [*base, "seed=0"], cwd=ROOT, env=env, capture_output=True, timeout=300, check=True
    )
    first = (sweep / "0" / "metrics.json").read_text()
    subprocess.run([*base, "seed=1"], cwd=ROOT, env=env, capture_output=True, timeout=300)
    row = read_summary(sweep)[-1]  # the second command's job 0
    assert (
        row["status"] == "failed" and "holds a finished run with other settings (" in row["error"]
    )
    assert "seed differ" in row["error"]  # (data differs too: its shuffle_seed is ${seed})
    assert (sweep / "0" / "metrics.json").read_text() == first  # nothing lost


def test_on_nonfinite_stop_ends_a_diverging_run_as_a_result(train_fast, tmp_path):
    metrics = train_fast(
        "optimizer=sgd",
        "scheduler=step",
        "scheduler.gamma=1e30",
        "trainer.max_epochs=6",
        "trainer.limit_train_batches=null",
        "extras.on_nonfinite=stop",
    )
    assert metrics["nonfinite/step"] > 0 and metrics["time/steps"] <= metrics["nonfinite/step"] + 1
    assert "test/acc" in metrics and (tmp_path / "metrics.json").exists()
