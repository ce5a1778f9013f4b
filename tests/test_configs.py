"""Every option of every config group composes and resolves (parametrised over conf/)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from omegaconf import OmegaConf

from tests.conftest import CONF, ROOT, compose, group_options

SKIP_GROUPS = {"hydra", "local"}
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in SKIP_GROUPS)
CASES = [(g, o) for g in GROUPS for o in group_options(g)]


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_option_composes_and_resolves(group, option, tmp_path):
    cfg = compose([f"{group}={option}"], tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["module"]["num_classes"] == resolved["data"]["num_classes"]
    assert resolved["module"]["input_shape"] == resolved["data"]["input_shape"]


def test_every_group_has_options():
    """Every config group under conf/ (read from the folder, not listed here) has an option."""
    assert "model" in GROUPS and "pooling" in GROUPS
    for group in GROUPS:
        assert group_options(group), f"conf/{group} is empty"


def test_defaults_are_digits_cnn_wandb(tmp_path):
    from hydra.core.hydra_config import HydraConfig

    cfg = compose([], tmp_path)
    choices = HydraConfig.get().runtime.choices
    assert (choices["data"], choices["model"], choices["logger"]) == ("digits", "cnn", "wandb")
    assert cfg.seed == 0
    for key in ("train", "test", "ckpt_path", "tags", "optimized_metric"):
        assert key in cfg


def test_trainer_knobs_need_no_plus(tmp_path):
    knobs = [
        "max_epochs=3",
        "max_steps=10",
        "limit_train_batches=0.5",
        "limit_val_batches=2",
        "limit_test_batches=2",
        "precision=bf16-mixed",
        "accumulate_grad_batches=2",
        "gradient_clip_val=1.0",
        "val_check_interval=0.5",
        "deterministic=true",
        "accelerator=cpu",
        "devices=1",
        "strategy=auto",
    ]
    cfg = compose([f"trainer.{k}" for k in knobs], tmp_path)
    assert cfg.trainer.precision == "bf16-mixed"
    assert cfg.trainer.gradient_clip_val == 1.0


def test_model_sizes_come_from_data_by_interpolation():
    text = "\n".join(p.read_text() for p in (CONF / "model").glob("*.yaml"))
    assert "${data.input_shape}" in text
    assert "input_shape: [" not in text


@pytest.mark.parametrize("flag", ["--help", "--cfg=job", "--info"])
def test_cli_answers_without_heavy_imports(flag):
    code = (
        f"import sys, runpy; sys.argv=['src/train.py', {flag!r}]; "
        "\ntry: runpy.run_path('src/train.py', run_name='__main__')"
        "\nexcept SystemExit: pass"
        "\nheavy = [m for m in ('torch', 'lightning', 'wandb') if m in sys.modules]"
        "\nprint('HEAVY', heavy)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
    assert elapsed < 10  # generous: the figure that matters is in docs/benchmarks.md


def test_help_lists_every_group_and_option():
    out = subprocess.run(
        [sys.executable, "src/train.py", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0
    for group in GROUPS:  # every group of conf/, each option a file there
        line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith(f"{group}:"))
        for option in group_options(group):
            assert option in line
