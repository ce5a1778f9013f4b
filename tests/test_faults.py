"""Nothing silent, nothing lost, nothing executed, driven through the command line as a user
types it: a checkpoint is data, the run dir decides, sweeps resume by default, a failed search
fails, a diverging run keeps finite weights, a kill's litter is cleaned and its history kept."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from tests.conftest import ROOT

QUIET = [
    "logger=csv",
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
]


def cli(root: Path, *args: str, script: str = "src/train.py", timeout: int = 300, pythonpath=False):
    env = {**os.environ, "BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    if pythonpath:  # a callback from tests/
        env["PYTHONPATH"] = str(ROOT)
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error(result: subprocess.CompletedProcess) -> str:
    """The run's single `Error:` line; no traceback anywhere."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    return line


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished 2-epoch digits run: its dir (shared by the tests that only read it)."""
    root = tmp_path_factory.mktemp("trained")
    run_dir = root / "D"
    result = cli(root, *QUIET, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_a_checkpoint_that_names_foreign_code_is_refused_and_runs_nothing(trained, tmp_path):
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    victim, made = tmp_path / "readable.txt", tmp_path / "made_by_the_checkpoint.txt"
    victim.write_text("x")
    checkpoint["hyper_parameters"]["loss"] = {
        "_target_": "shutil.copyfile",
        "_args_": [str(victim), str(made)],
    }
    evil = tmp_path / "evil.ckpt"
    torch.save(checkpoint, evil)
    for script, extra in (("src/eval.py", []), ("src/train.py", ["trainer.max_epochs=3"])):
        result = cli(tmp_path, f"ckpt_path={evil}", *QUIET, *extra, script=script)
        assert result.returncode == 2
        assert "loss._target_='shutil.copyfile'" in one_error(result)
        assert not made.exists()  # nothing was instantiated


def test_an_explicit_run_dir_with_other_settings_is_refused_and_left_byte_identical(trained):
    before = digests(trained)
    result = cli(
        trained.parent,
        *QUIET,
        "trainer.max_epochs=3",
        "optimizer.lr=0.05",
        f"hydra.run.dir={trained}",
    )
    assert result.returncode == 2
    line = one_error(result)
    assert "holds a run made with other settings" in line and "optimizer.lr: 0.003 -> 0.05" in line
    assert digests(trained) == before  # Hydra wrote nothing into it either


def test_a_finished_run_started_again_is_reported_not_rerun(trained):
    before = digests(trained)
    result = cli(trained.parent, *QUIET, "trainer.max_epochs=2", f"hydra.run.dir={trained}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "holds a finished run" in result.stderr and "nothing was re-run" in result.stderr
    assert digests(trained) == before  # metrics.json keeps train/*, val/* and its fit time


def test_a_live_run_dir_refuses_a_second_command_before_hydra_writes(tmp_path):
    run_dir = tmp_path / "live"
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path)}
    first = subprocess.Popen(
        [
            sys.executable,
            "src/train.py",
            *QUIET,
            "trainer.max_epochs=300",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not (run_dir / "checkpoints" / "last.ckpt").exists():
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.1)
        hydra_files = digests(run_dir / ".hydra")
        result = cli(
            tmp_path, *QUIET, "trainer.max_epochs=300", "seed=5", f"hydra.run.dir={run_dir}"
        )
        assert result.returncode == 2 and "is in use by a live run" in one_error(result)
        assert digests(run_dir / ".hydra") == hydra_files
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


@pytest.mark.slow
def test_the_identical_sweep_command_after_a_kill_reruns_only_the_unfinished_jobs(tmp_path):
    """No hydra.sweep.dir given: the sweep dir is named from the command, not the clock."""
    cmd = ["-m", "seed=0,1,2", *QUIET, "trainer.max_epochs=2", "trainer.limit_train_batches=3"]
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "src/train.py", *cmd],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while not list(tmp_path.glob("logs/train/multiruns/*/1/checkpoints/last.ckpt")):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the machine stops mid-sweep
    proc.wait()
    (sweep,) = tmp_path.glob("logs/train/multiruns/*")
    done_before = (sweep / "0" / "metrics.json").stat().st_mtime_ns
    result = cli(tmp_path, *cmd)  # the same command
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p.name for p in tmp_path.glob("logs/train/multiruns/*")] == [sweep.name]
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == done_before  # not rerun
    assert all((sweep / str(i) / "metrics.json").exists() for i in range(3))
    rows = [ln for ln in (sweep / "summary.md").read_text().splitlines() if ln.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["0", "1", "2"]  # each job once


@pytest.mark.extra("sweeps")
def test_a_search_whose_trials_all_fail_exits_non_zero(tmp_path):
    base = [
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        *QUIET,
        "trainer.max_epochs=1",
    ]
    failed = cli(tmp_path / "a", *base, "optimizer.lr=interval(-1.0,-0.5)")
    assert failed.returncode == 1 and "has no completed trial (2 of 2 failed)" in one_error(failed)
    reversed_ = cli(tmp_path / "b", *base, "optimizer.lr=interval(0.01,0.0005)")
    assert reversed_.returncode == 2 and "bounds the wrong way round" in one_error(reversed_)


def test_a_diverging_run_stopped_keeps_finite_weights_and_writes_strict_json(tmp_path):
    run_dir = tmp_path / "D"
    result = cli(
        tmp_path,
        *QUIET,
        "optimizer=sgd",
        "scheduler=step",
        "scheduler.gamma=1e30",
        "trainer.max_epochs=6",
        "extras.on_nonfinite=stop",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-2000:]

    def refuse(name: str):
        raise ValueError(f"{name} in metrics.json")

    metrics = json.loads((run_dir / "metrics.json").read_text(), parse_constant=refuse)
    assert metrics["nonfinite/step"] > 0 and "test/acc" in metrics
    for path in (run_dir / "checkpoints").glob("*.ckpt"):
        weights = torch.load(path, weights_only=True)["state_dict"]
        assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point()), path


@pytest.mark.slow
def test_a_kills_litter_is_cleaned_when_the_run_resumes(tmp_path):
    run_dir = tmp_path / "D"
    first = cli(tmp_path, *QUIET, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr[-2000:]
    (run_dir / "metrics.json").unlink()  # as if killed after its last checkpoint
    ckpts = run_dir / "checkpoints"
    best = {p.name for p in ckpts.glob("epoch_*.ckpt")}
    (ckpts / ".last.ckpt.abc123.tmp").write_bytes(b"half a checkpoint")
    (ckpts / "epoch_007.ckpt").write_bytes((ckpts / "last.ckpt").read_bytes())  # a rolled-back best
    again = cli(tmp_path, *QUIET, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}")
    assert again.returncode == 0, again.stderr[-2000:]
    left = {p.name for p in ckpts.iterdir()}
    assert ".last.ckpt.abc123.tmp" not in left and "epoch_007.ckpt" not in left
    assert "last.ckpt" in left and len({p for p in left if p.startswith("epoch_")}) == 1
    assert best  # there was a best checkpoint to keep
    with open(run_dir / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2]


class RowsAtSave(L.Callback):
    """A callback (`+callbacks.rows._target_=tests.test_faults.RowsAtSave`) that notes, as
    each checkpoint is about to be written, which epochs' train and validation rows
    `metrics.csv` holds on disk then: `[epoch, [train epochs], [val epochs]]` per save."""

    def __init__(self, out: str) -> None:
        self.out = out

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        with open(Path(trainer.loggers[0].log_dir) / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        seen = [[int(r["epoch"]) for r in rows if r.get(k)] for k in ("train/loss", "val/acc")]
        with open(self.out, "a") as f:
            f.write(json.dumps([trainer.current_epoch, *seen]) + "\n")


def test_an_epochs_csv_rows_are_on_disk_before_its_checkpoint(tmp_path):
    """Lightning logs an epoch's train row after the epoch's checkpoints; a kill in between lost
    it. Every checkpoint of a 2-epoch run is written with its epoch's train and validation rows
    already in `csv/metrics.csv`, and the finished file holds each once."""
    out = tmp_path / "saves.jsonl"
    run_dir = tmp_path / "D"
    result = cli(
        tmp_path,
        *QUIET,
        "trainer.max_epochs=2",
        f"hydra.run.dir={run_dir}",
        "+callbacks.rows._target_=tests.test_faults.RowsAtSave",
        f"+callbacks.rows.out={out}",
        pythonpath=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    saves = [json.loads(line) for line in out.read_text().splitlines()]
    assert {s[0] for s in saves} == {0, 1}
    for epoch, train, val in saves:
        assert epoch in train and epoch in val, saves
    with open(run_dir / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows if r["train/loss"]] == [0, 1]
    assert [int(r["epoch"]) for r in rows if r["val/acc"]] == [0, 1]


@pytest.mark.slow
def test_kills_at_checkpoint_replacement_never_lose_a_history_row(tmp_path):
    """20 `kill -9`s, each the moment a checkpoint's temporary file appears (the save of that
    epoch's checkpoint is under way): the same command then finishes with one complete row per
    epoch, validation columns filled, in `history.csv` and in the CSV logger's `metrics.csv`
    (one train row and one validation row per epoch: Lightning logs the train row after the
    checkpoints, and lost it in 3 of 4 kills before the logger wrote it ahead of them)."""
    epochs, kills = 4, 0
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path)}
    for trial in range(20):
        run_dir = tmp_path / f"run{trial}"
        cmd = [
            sys.executable,
            "src/train.py",
            *QUIET,
            f"trainer.max_epochs={epochs}",
            "trainer.deterministic=true",
            f"hydra.run.dir={run_dir}",
        ]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target, seen = (
            trial % (2 * epochs),
            0,
        )  # the k-th checkpoint write (best and last alternate)
        killed, last = False, set()
        while proc.poll() is None:
            tmp = (
                {p.name for p in (run_dir / "checkpoints").glob(".*.tmp")}
                if run_dir.exists()
                else set()
            )
            if tmp - last:
                seen += 1
                if seen > target:
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed = True
                    break
            last = tmp
            time.sleep(0.0005)
        proc.wait()
        kills += killed
        rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        with open(run_dir / "history.csv") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["epoch"]) for r in rows] == list(range(epochs)), (trial, killed, rows)
        assert all(r["val/acc"] and math.isfinite(float(r["train/loss"])) for r in rows)
        with open(run_dir / "csv" / "metrics.csv") as f:
            logged = list(csv.DictReader(f))
        for column in ("train/loss", "val/acc"):
            epochs_logged = [int(r["epoch"]) for r in logged if r[column]]
            assert epochs_logged == list(range(epochs)), (trial, killed, column, logged)
    assert kills >= 15  # (a run that ended before its k-th save was not killed)
