"""Every experiment config is a valid single run (`experiment=X` alone, as lightning-hydra-
template's `python src/train.py -m 'experiment=glob(*)' debug=fast` runs them), on small files
written in the data sets' real formats; a failed download is one sentence.

A preset's own sweep (`hydra.sweeper.params`, run by scripts/run_preset.py) sets each arm on top;
tests/test_presets.py checks the arms. Here: the config an experiment composes to by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, compose, group_options

EXPERIMENTS = group_options("experiment")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def local_files(cfg, data_dir: Path) -> list[str]:
    """Overrides that read the test's small files: no download, and no MD5 check for CIFAR's
    (torchvision compares the official archive's checksums; these files were written here)."""
    extra = [f"paths.data_dir={data_dir}"]
    if "download" in cfg.data:
        extra.append("data.download=false")
    if "verify_checksums" in cfg.data:
        extra.append("data.verify_checksums=false")
    return extra


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_an_experiment_alone_composes_checks_and_builds(experiment, data_root, tmp_path):
    """`experiment=X` with no sweep: the run's checks pass, its data loads from the real file
    formats, and its model runs a dry batch of that data (what fails first in a real run)."""
    from biaslab.run.build import build_components, check_modality
    from biaslab.run.checks import validate

    base = [f"experiment={experiment}", "hydra.mode=RUN", "logger=csv"]
    cfg = compose(base, tmp_path)
    cfg = compose([*base, *local_files(cfg, data_root)], tmp_path)
    validate(cfg)
    check_modality(cfg)
    datamodule, module = build_components(cfg)
    assert len(datamodule.splits["train"][1]) > 0
    assert sum(p.numel() for p in module.parameters()) > 0


def summary(sweep_root: Path) -> list[dict]:
    (path,) = sweep_root.rglob("summary.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_every_experiment_runs_as_a_single_run_in_one_multirun(data_root, tmp_path):
    """`python src/train.py -m 'experiment=glob(*)' debug=fast` on the test files: every job
    finishes. CIFAR-10's recipe runs in a second command, with `data.verify_checksums=false`:
    torchvision checks the official archive's MD5s, which files written here cannot have (about
    7.5 min on 2 busy cores: critical_points' exact Hessian and the GPU recipes' bf16 on a CPU
    take most of it)."""
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    common = ["debug=fast", f"paths.data_dir={data_root}"]
    if not _cuda():  # the GPU recipes (trainer=gpu) on this machine's CPU
        common.append("trainer.accelerator=cpu")
    swept = [sys.executable, "src/train.py", "-m", "experiment=glob(*,exclude=cifar10_speed)"]
    done = subprocess.run(
        [*swept, *common], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500
    )
    jobs = summary(tmp_path / "logs")
    failed = {str(j.get("overrides")): j.get("error") for j in jobs if j.get("status") != "ok"}
    assert not failed, failed
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(jobs) == len(EXPERIMENTS) - 1
    cifar = [sys.executable, "src/train.py", "experiment=cifar10_speed", "data.download=false"]
    done = subprocess.run(
        [*cifar, "data.verify_checksums=false", *common],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize(
    ("data", "name"), [("fashion_mnist", "FashionMNIST"), ("cifar10", "CIFAR10")]
)
def test_a_failed_download_is_one_sentence(data, name, tmp_path):
    """torchvision's real download code, pointed through a proxy on a closed local port so it
    fails here whether or not the machine is online: one sentence naming the data set, the
    folder it looked in and the fix, exit 2, nothing trained."""
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    for key in ("no_proxy", "NO_PROXY", "HYDRA_FULL_ERROR"):
        env.pop(key, None)
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    env.update(HTTP_PROXY=env["http_proxy"], HTTPS_PROXY=env["https_proxy"])
    done = subprocess.run(
        [sys.executable, "src/train.py", f"data={data}", "debug=fast", "trainer.accelerator=cpu"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
    data_dir = tmp_path / "data"
    assert line.startswith(f"Error: data.data_dir={data_dir}: ") and name in line, line
    assert "download" in line.split("data.download=false")[0], (
        line
    )  # says what failed: the download
    assert "data.download=false" in line and line.endswith(".") and ". " not in line, line
    assert not list(tmp_path.rglob("*.ckpt"))
