"""An Optuna search stopped (SIGTERM, or kill -9) and started again with the same command: the
trial that was running is resumed in its own job dir, the study reaches its full trial count,
and no job dir is taken as a trial's result without that trial having trained there."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.extra("sweeps")  # the Optuna sweeper

EPOCHS = 4


def command(tmp_path: Path) -> list[str]:
    return [
        sys.executable,
        "src/train.py",
        "-m",
        "hparams_search=optuna",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.pruner=null",
        "hydra.sweeper.params={optimizer.lr:'tag(log, interval(0.0005, 0.01))'}",
        "logger=csv",
        f"trainer.max_epochs={EPOCHS}",
        "trainer.limit_train_batches=10",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        "trainer.num_sanity_val_steps=0",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.accelerator=cpu",
        "extras.print_config=false",
    ]


def stop_during(tmp_path: Path, job: int, signum: int) -> subprocess.Popen:
    """Start the search and send `signum` to it once job `job` has checkpointed an epoch."""
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    proc = subprocess.Popen(
        command(tmp_path),
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = tmp_path / "sweep" / str(job) / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the search ended before the job to stop began"
    os.killpg(proc.pid, signum)
    proc.wait(timeout=120)
    return proc


def study_trials(tmp_path: Path) -> list:
    import optuna

    db = f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    return optuna.load_study(study_name="biaslab", storage=db).trials


@pytest.mark.slow  # three searches of 4 short trials, about 60 s
def test_a_stopped_search_resumes_its_running_trial_to_the_full_trial_count(tmp_path):
    from optuna.trial import TrialState

    stopped = stop_during(tmp_path, 1, signal.SIGTERM)
    assert stopped.returncode == 0, stopped.stderr[-3000:]  # preempted: a clean exit
    states = [t.state for t in study_trials(tmp_path)]
    assert states == [TrialState.COMPLETE, TrialState.RUNNING]  # left for the next sweeper
    killed = stop_during(tmp_path, 2, signal.SIGKILL)  # resumes trial 1, then dies in trial 2
    assert killed.returncode == -signal.SIGKILL
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    done = subprocess.run(
        command(tmp_path), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    trials = study_trials(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len({t.params["optimizer.lr"] for t in trials}) == 4  # 4 configurations, not 2
    sweep = tmp_path / "sweep"
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]
    for trial in trials:  # each dir holds its own trial's run, trained there to its last epoch
        job = sweep / str(trial.number)
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["val/acc_best"] == pytest.approx(trial.value)
        with open(job / "history.csv") as f:
            assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(EPOCHS))
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        assert f"trial_id:{trial._trial_id}" in overrides.replace(" ", "")
    for number in (1, 2):  # the stopped trials continued from their checkpoints
        assert "Resuming from" in (sweep / str(number) / "train.log").read_text()
