"""Multiruns through Hydra's own launchers and sweepers, DDP inside sweeps, W&B grouping."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from biaslab.errors import ConfigError
from biaslab.run.checks import validate
from biaslab.run.sweep import read_summary
from biaslab.utils.wandb_files import find_run_files, read_artifacts, read_records
from biaslab.utils.wandb_files import read_summary as wandb_summary
from tests.conftest import ROOT, compose, eventually

pytestmark = pytest.mark.extra("sweeps")  # Hydra's launchers and the Optuna sweeper

CLI_FAST = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "extras.print_config=false",
    "trainer.accelerator=cpu",
]


def cli(
    root: Path, *args: str, check: bool = True, timeout: int = 300
) -> subprocess.CompletedProcess:
    env = {**os.environ, "BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    out = subprocess.run(
        [sys.executable, "src/train.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and out.returncode != 0:
        raise AssertionError(out.stderr[-3000:])
    return out


def sweep_dirs(root: Path) -> list[Path]:
    """The sweep dirs in the order they were made (their names come from the commands)."""
    return sorted(
        (root / "logs" / "train" / "multiruns").iterdir(), key=lambda p: p.stat().st_ctime_ns
    )


def job_dirs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())


def wandb_run_info(path: Path) -> dict:
    run = next(r.run for r in read_records(path) if r.WhichOneof("record_type") == "run")
    return {
        "group": run.run_group,
        "name": run.display_name,
        "job_type": run.job_type,
        "id": run.run_id,
    }


@pytest.mark.slow  # a two-job joblib sweep with W&B, 20 s; composing the launcher stays fast
def test_joblib_multirun_groups_wandb_runs_and_writes_one_summary(tmp_path):
    cli(
        tmp_path,
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "seed=0,1",
        "logger=wandb",
        *CLI_FAST,
    )
    (sweep,) = sweep_dirs(tmp_path)
    jobs = job_dirs(sweep)
    assert len(jobs) == 2
    runs = [wandb_run_info(f) for f in find_run_files(sweep)]
    assert len(runs) == 2
    assert runs[0]["group"] == runs[1]["group"] == f"train-{sweep.name}"  # <experiment>-<id>
    assert sorted(r["name"] for r in runs) == ["seed=0", "seed=1"]
    assert all(r["job_type"] == "train" for r in runs)
    rows = read_summary(sweep)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all("test/acc" in r["metrics"] for r in rows)
    for job, run_file in zip(jobs, find_run_files(sweep)):  # W&B holds the whole record
        metrics = json.loads((job / "metrics.json").read_text())
        summary = eventually(lambda f=run_file: wandb_summary(f), lambda s: "gap/acc" in s)
        assert {k for k, v in metrics.items() if v is not None} <= set(summary)
        assert any(kind == "predictions" for _, kind in read_artifacts(run_file))

    def report(*args: str) -> list[str]:  # the table lines scripts/report.py prints
        cmd = [sys.executable, "scripts/report.py", str(sweep), *args]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        return [line for line in out.stdout.splitlines() if line.startswith("| ")]

    table = report("--metric", "test/acc")
    assert table and report("--wandb") == table  # the same table from W&B's own run files
    assert (sweep / "summary.md").read_text().count("| ok |") == 2
    for job in jobs:  # provenance beside the resolved config
        assert (job / "config_resolved.yaml").exists()
        info = (job / "provenance.json").read_text()
        assert '"torch"' in info and "git_commit" in info
        lock = hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()
        assert json.loads(info)["lock_sha256"] == lock


@pytest.mark.slow
def test_failing_job_does_not_stop_the_others(tmp_path):
    out = cli(
        tmp_path,
        "-m",
        "model.backbone.downsample=maxpool,bogus,avgpool",
        "logger=csv",
        *CLI_FAST,
        check=False,
    )
    assert out.returncode != 0  # the sweep reports the failure, loudly
    (sweep,) = sweep_dirs(tmp_path)
    rows = read_summary(sweep)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert rows[1]["error"].startswith(
        "biaslab.errors.ConfigError: model.backbone.downsample='bogus'"
    )
    assert "test/acc" in rows[2]["metrics"]


@pytest.mark.slow
def test_optuna_sqlite_study_resumes(tmp_path):
    db = f"sqlite:///{tmp_path / 'study.db'}"
    common = [
        "hparams_search=optuna",
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=t",
        "hydra.sweeper.sampler.n_startup_trials=2",
        "logger=csv",
        *CLI_FAST,
    ]
    cli(tmp_path, *common, "hydra.sweeper.n_trials=3")  # stopped after 3 of 6
    cli(tmp_path, *common, "hydra.sweeper.n_trials=6")  # the study's total: 3 more
    import optuna

    study = optuna.load_study(study_name="t", storage=db)
    assert len(study.trials) == 6
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    first, second = sweep_dirs(tmp_path)
    assert len(job_dirs(first)) == 3 and len(job_dirs(second)) == 3
    best = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert best["best_value"] == study.best_value and set(best["best_params"]) == {
        "optimizer.lr",
        "optimizer.weight_decay",
        "data.batch_size",
    }


@pytest.mark.slow
def test_two_workers_share_one_study_without_running_a_trial_twice(tmp_path):
    db = f"sqlite:///{tmp_path / 'study.db'}"
    args = [
        "hparams_search=optuna",
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=shared",
        "hydra.sweeper.n_trials=4",
        "logger=csv",
        *CLI_FAST,
    ]
    env = {**os.environ, "WANDB_MODE": "offline"}
    workers = [
        subprocess.Popen(
            [sys.executable, "src/train.py", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "BIASLAB_ROOT": str(tmp_path / w)},
        )
        for w in ("a", "b")
    ]
    for w in workers:
        assert w.wait(timeout=300) == 0, w.stderr.read()[-2000:]
    import optuna

    study = optuna.load_study(study_name="shared", storage=db)
    assert len(study.trials) == 4 and len({t.number for t in study.trials}) == 4
    ran = sum(len(job_dirs(d)) for w in ("a", "b") for d in sweep_dirs(tmp_path / w))
    assert ran == 4  # every trial ran once, in one worker or the other


@pytest.mark.slow
def test_a_pruner_stops_a_bad_trial_early_and_marks_it_pruned(tmp_path):
    """Two good trials (lr 0.01) set the median; a third at lr 1e-7 (chance; 0 is refused) is pruned after its
    first epochs, the sweep exits 0, the study and the summary say pruned."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    common = [
        "hparams_search=optuna",
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=p",
        "hydra.sweeper.pruner.n_startup_trials=2",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "trainer.max_epochs=4",
        "trainer.limit_train_batches=8",
        "scheduler=none",
        "logger=csv",
        "hydra.sweeper.params=null",
        "optimizer.weight_decay=0.0",
        "trainer.enable_progress_bar=false",
        "trainer.accelerator=cpu",
        "trainer.enable_model_summary=false",
        "extras.print_config=false",
    ]
    cli(tmp_path, "-m", *common, "optimizer.lr=0.01", "hydra.sweeper.n_trials=2")
    out = cli(tmp_path, "-m", *common, "optimizer.lr=1e-07", "hydra.sweeper.n_trials=3")
    assert out.returncode == 0
    import optuna

    states = [t.state for t in optuna.load_study(study_name="p", storage=db).trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.PRUNED]
    _, second = sweep_dirs(tmp_path)
    (job,) = job_dirs(second)
    with open(job / "history.csv") as f:
        assert len(f.readlines()) - 1 < 4  # stopped before its last epoch
    assert [r["status"] for r in read_summary(second)] == ["pruned"]
    assert "| pruned |" in (second / "summary.md").read_text()


@pytest.mark.slow
def test_ddp_cpu_run_is_one_dir_and_one_wandb_run(tmp_path):
    cli(tmp_path, "trainer=ddp_cpu", "logger=wandb", *CLI_FAST)
    runs = sorted((tmp_path / "logs" / "train" / "runs").iterdir())
    assert len(runs) == 1
    assert len(find_run_files(runs[0])) == 1
    assert (runs[0] / "config_resolved_rank1.yaml").exists()


@pytest.mark.slow
def test_ddp_cpu_inside_a_multirun(tmp_path):
    cli(tmp_path, "-m", "trainer=ddp_cpu", "seed=0,1", "logger=wandb", *CLI_FAST)
    assert not (tmp_path / "logs" / "train" / "runs").exists()  # no stray single-run dirs
    (sweep,) = sweep_dirs(tmp_path)  # no stray sweeps started by child ranks
    jobs = job_dirs(sweep)
    assert len(jobs) == 2
    assert len(find_run_files(sweep)) == 2
    for job in jobs:
        rank0 = yaml.safe_load((job / "config_resolved.yaml").read_text())
        rank1 = yaml.safe_load((job / "config_resolved_rank1.yaml").read_text())
        assert rank0 == rank1
    assert [r["status"] for r in read_summary(sweep)] == ["ok", "ok"]


@pytest.mark.slow
def test_submitit_local_runs_two_jobs(tmp_path):
    cli(
        tmp_path,
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        "seed=0,1",
        "logger=csv",
        *CLI_FAST,
    )
    (sweep,) = sweep_dirs(tmp_path)
    rows = read_summary(sweep)
    assert [r["status"] for r in rows] == ["ok", "ok"]


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_ddp_in_unsupported_launcher_is_refused(launcher, tmp_path):
    cfg = compose([f"hydra/launcher={launcher}", "trainer=ddp_cpu"], tmp_path)
    with pytest.raises(
        ConfigError, match=f"cannot run inside hydra/launcher={launcher}; use hydra/launcher=basic"
    ):
        validate(cfg)


def test_run_dirs_never_collide():
    """Two processes started in the same second get different run-dir suffixes."""
    a = subprocess.run(
        [sys.executable, "-c", "from biaslab.utils.resolvers import unique; print(unique())"],
        capture_output=True,
        text=True,
    ).stdout
    b = subprocess.run(
        [sys.executable, "-c", "from biaslab.utils.resolvers import unique; print(unique())"],
        capture_output=True,
        text=True,
    ).stdout
    assert a != b


@pytest.mark.parametrize(
    "launcher", ["basic", "joblib", "submitit_local", "submitit_slurm", "slurm"]
)
def test_launcher_options_compose(launcher, tmp_path):
    from omegaconf import OmegaConf

    cfg = compose(
        [f"hydra/launcher={launcher}", "trainer=ddp", "trainer.devices=4"],
        tmp_path,
        keep_hydra=True,
    )
    launcher_cfg = OmegaConf.to_container(cfg, resolve=True)["hydra"]["launcher"]
    if launcher == "slurm":
        assert launcher_cfg["tasks_per_node"] == launcher_cfg["gpus_per_node"] == 4
        assert launcher_cfg["max_num_timeout"] > 0  # requeued on preemption / timeout
        assert launcher_cfg["additional_parameters"]["requeue"] is True


@pytest.mark.slow
def test_ddp_spawn_on_two_cpu_processes_works_with_every_logger(tmp_path):
    """Fit and test under ddp_spawn with csv, tensorboard and wandb (offline) attached at once
    (`logger=many`): the parent's CSV writer used to crash at test on the columns its spawned
    workers had written."""
    run_dir = tmp_path / "run"
    cli(
        tmp_path,
        "logger=many",
        "trainer.strategy=ddp_spawn",
        "trainer.devices=2",
        *CLI_FAST,
        f"hydra.run.dir={run_dir}",
        timeout=600,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"train/loss", "val/acc", "test/acc"} <= set(metrics)
    (csv_file,) = (run_dir / "csv").rglob("metrics.csv")
    header = csv_file.read_text().splitlines()[0].split(",")
    assert {"train/loss", "val/acc", "test/acc"} <= set(header)
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert list(run_dir.rglob("run-*.wandb"))


def test_the_study_lock_serialises_workers_on_a_sqlite_study(tmp_path):
    """While one worker counts and asks, another cannot: the lock file beside the db is held."""
    import fcntl

    from hydra_plugins.biaslab_sweepers.optuna_sweeper import _study_lock

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with (
        _study_lock(storage),
        open(tmp_path / "study.db.lock") as other,
        pytest.raises(BlockingIOError),
    ):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "study.db.lock") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit
    with _study_lock("postgresql://host/db"):  # a server database: no file, no lock
        pass


def test_a_sweeper_is_dead_once_its_lock_is_free(tmp_path):
    """A trial names its sweeper's lock file; the sweeper counts as alive while it holds it,
    and dead once it is gone or free (a killed process's lock), so its RUNNING trials are
    adopted. A sweeper on another machine, or an unnamed one on a server database, is not
    judged dead."""
    import socket
    import subprocess

    from hydra_plugins.biaslab_sweepers.optuna_sweeper import _worker_dead, _worker_lock

    with _worker_lock(tmp_path / "workers") as me:
        assert not _worker_dead(me, locked_storage=True)
    assert _worker_dead(me, locked_storage=True)  # removed as the sweep ended
    left = tmp_path / "left.lock"
    left.write_text("")
    here = socket.gethostname()
    hold = "import fcntl, sys; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); print(1)"
    holder = subprocess.Popen(  # another sweeper process holding its lock
        [sys.executable, "-c", hold + "; sys.stdin.read()", str(left)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "1"
    assert not _worker_dead(f"{here}:{left}", locked_storage=True)
    holder.stdin.close()
    holder.wait(timeout=30)  # it ended without removing its file, as a killed one does
    assert _worker_dead(f"{here}:{left}", locked_storage=False)
    assert not _worker_dead(f"another-{here}:{left}", locked_storage=True)
    assert _worker_dead(None, locked_storage=True)
    assert not _worker_dead(None, locked_storage=False)


def test_provenance_takes_the_commit_from_the_environment_first(tmp_path, monkeypatch):
    """A tree copied to a device machine records the commit it was given: the copy's own .git can
    be stale (it named an older commit there) or missing."""
    from biaslab.run.files import RunDir
    from biaslab.run.provenance import COMMIT_ENV, write_provenance

    run_dir = RunDir(tmp_path)
    monkeypatch.setenv(COMMIT_ENV, "0123abc")
    for root in (tmp_path, ROOT):  # no .git; this repository's .git
        write_provenance(run_dir, root_dir=root)
        assert run_dir.read_provenance()["git_commit"] == "0123abc"
    monkeypatch.delenv(COMMIT_ENV)
    write_provenance(run_dir, root_dir=ROOT)
    assert run_dir.read_provenance()["git_commit"] not in (
        "0123abc",
        None,
    )


def test_the_slurm_job_script_has_the_gpu_task_node_requeue_and_signal_lines(tmp_path):
    """hydra/launcher=slurm trainer=ddp trainer.devices=4 trainer.num_nodes=2: the sbatch text
    submitit itself builds from our launcher config, and the plain template, both say one task
    per GPU on 2 nodes, requeue, and a signal before the time limit."""
    from omegaconf import OmegaConf

    from biaslab.run.slurm import job_script, sbatch_template

    cfg = compose(
        ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"],
        tmp_path,
        keep_hydra=True,
    )
    text = job_script(OmegaConf.to_container(cfg.hydra.launcher, resolve=True), tmp_path)
    lines = set(text.splitlines())
    for line in (
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --nodes=2",
        "#SBATCH --requeue",
        "#SBATCH --signal=USR2@120",
    ):
        assert line in lines, text
    plain = sbatch_template(nodes=2, gpus_per_node=4, overrides="model=vit seed=0").splitlines()
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --requeue",
        "#SBATCH --signal=SIGUSR1@120",
    ):
        assert line in plain
    (command,) = [ln for ln in plain if ln.startswith("srun ")]
    assert "trainer=ddp trainer.devices=4 trainer.num_nodes=2 model=vit seed=0" in command
    # a dir per job, kept by its requeue: resume there; another submission gets its own
    assert "'hydra.run.dir=${paths.log_dir}/slurm/run-${oc.env:SLURM_JOB_ID}'" in command
