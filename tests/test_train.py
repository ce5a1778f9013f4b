"""Short real runs on digits: every optimiser, schedule and loss; eval, checkpoints, seeds, W&B."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST, compose, eventually, group_options


def first_epoch_train_loss(run_dir: Path) -> float:
    with open(run_dir / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/loss")]
    return float(rows[0]["train/loss"])


@pytest.mark.parametrize("option", group_options("optimizer"))
def test_every_optimizer_trains(train_fast, option):
    metrics = train_fast(f"optimizer={option}")
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
    assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.parametrize("option", group_options("scheduler"))
def test_every_scheduler_trains(train_fast, option):
    metrics = train_fast(f"scheduler={option}", "trainer.limit_train_batches=4")
    assert "lr" in metrics or "lr-AdamW" in metrics or metrics["train/loss"] > 0


@pytest.mark.parametrize("option", group_options("loss"))
def test_every_loss_trains(train_fast, option):
    metrics = train_fast(f"loss={option}")
    assert torch.isfinite(torch.tensor(metrics["test/loss"]))


def test_default_cnn_learns_digits(train_fast):
    metrics = train_fast(
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=null",
        "trainer.limit_val_batches=null",
        "trainer.limit_test_batches=null",
    )
    assert metrics["test/acc"] > 0.9


def test_checkpoint_is_weights_only_and_eval_reproduces_test_acc(tmp_path):
    from biaslab.module import Classifier
    from biaslab.run.evaluate import evaluate
    from biaslab.run.train import train

    run = tmp_path / "run"
    metrics = train(compose([*FAST, "trainer.limit_test_batches=null"], run))
    ckpt = run / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    assert state["hyper_parameters"]["num_classes"] == 10
    model = Classifier.load_from_checkpoint(ckpt)
    assert isinstance(model, Classifier)
    best = next(p for p in (run / "checkpoints").glob("epoch_*.ckpt"))
    cfg = compose(
        [f"ckpt_path={best}", "extras.print_config=false", "trainer.enable_progress_bar=false"],
        tmp_path / "eval",
        config_name="eval",
    )
    again = evaluate(cfg)
    assert again["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)


def test_seed_zero_is_reproducible_and_seed_one_differs(tmp_path, train_fast):
    losses = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train_fast(f"seed={seed}", "test=false", path=tmp_path / name)
        losses[name] = first_epoch_train_loss(tmp_path / name)
    assert losses["a"] == losses["b"]
    assert losses["a"] != losses["c"]


def test_offline_wandb_run_holds_the_logged_metrics(tmp_path, train_fast):
    from biaslab.utils.wandb_files import find_run_files, read_history

    train_fast("logger=wandb", "tags=[unit]", "logger.wandb.log_model=true")
    files = find_run_files(tmp_path)
    assert len(files) == 1
    want = {"train/loss", "train/acc", "val/acc", "test/acc"}
    keys = eventually(lambda: {k for row in read_history(files[0]) for k in row}, want.issubset)
    assert want <= keys
    assert (tmp_path / "wandb_id.txt").read_text().strip() in files[0].name
    from biaslab.utils.wandb_files import read_artifacts, read_summary

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    summary = eventually(lambda: read_summary(files[0]), lambda s: "train_eval/acc" in s)
    assert {k for k, v in metrics.items() if v is not None} <= set(summary)  # all of metrics.json
    assert summary["test_last/acc"] == pytest.approx(metrics["test_last/acc"])
    kinds = {kind for _, kind in read_artifacts(files[0])}
    assert {"predictions", "model"} <= kinds  # log_model: the checkpoints too, kept for sync


def test_the_documented_wandb_sweep_runs_as_an_agent_runs_it(tmp_path):
    """docs/sweeps.md's W&B sweep file, its first grid point turned into a command by W&B's own
    builders as `wandb agent` does (with its WANDB_RUN_ID, WANDB_SWEEP_ID and param file): the
    run trains, logs under that id in that sweep, grouped `<experiment>-<sweep id>`, named by its
    values. The fast settings are appended to the command."""
    import os
    import re
    import subprocess
    import sys

    import yaml
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args
    from wandb.sdk.lib import config_util

    from biaslab.utils.wandb_files import find_run_files, read_records
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "sweeps.md").read_text()
    sweep = yaml.safe_load(re.search(r"```yaml\n(program: .*?)```", doc, re.S).group(1))
    args = {k: {"value": v["values"][0]} for k, v in sweep["parameters"].items()}
    params = tmp_path / "sweep-config.yaml"
    config_util.save_config_file_from_dict(str(params), args)
    words = create_sweep_command_args({"args": args})
    words |= {
        "env": ["/usr/bin/env"],
        "interpreter": [sys.executable],
        "program": [sweep["program"]],
    }
    cmd = []
    for part in create_sweep_command(list(sweep["command"])):
        cmd += words[part[2:-1]] if part.startswith("${") else [part]
    env = {
        **os.environ,
        "BIASLAB_ROOT": str(tmp_path),
        "WANDB_MODE": "offline",
        "WANDB_RUN_ID": "agentrun0001",
        "WANDB_SWEEP_ID": "sweep42",
        "WANDB_SWEEP_PARAM_PATH": str(params),
    }
    fast = [o for o in FAST if not o.startswith("logger=")]
    out = subprocess.run(
        [*cmd, *fast], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (run_file,) = find_run_files(tmp_path)
    run = next(r.run for r in read_records(run_file) if r.WhichOneof("record_type") == "run")
    assert (run.run_id, run.sweep_id, run.run_group) == ("agentrun0001", "sweep42", "train-sweep42")
    assert "model=cnn" in run.display_name and "seed=0" in run.display_name
    (metrics,) = (tmp_path / "logs").rglob("metrics.json")
    assert json.loads(metrics.read_text())["test/acc"] > 0


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_precision_options_train_on_cpu(train_fast, precision):
    metrics = train_fast(f"trainer.precision={precision}", "model=vit")
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


@pytest.mark.slow
def test_model_compile_trains(train_fast):
    metrics = train_fast("model.compile=true")
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


def test_channels_last_keeps_the_logits():
    from biaslab.models.net import build_net

    torch.manual_seed(0)
    cfg = (
        {"_target_": "biaslab.models.cnn.CNN", "input_shape": [1, 8, 8]},
        {"_target_": "biaslab.models.pooling.MeanPool"},
        {"_target_": "biaslab.models.heads.LinearHead"},
    )
    net = build_net(*cfg, 10, [1, 8, 8]).eval()
    x = torch.randn(16, 1, 8, 8)
    expected = net(x)
    fast = net.to(memory_format=torch.channels_last)(
        x.contiguous(memory_format=torch.channels_last)
    )
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=1e-5)


def test_optimized_metric_is_checked_against_what_the_run_logged(train_fast, tmp_path):
    from biaslab.run.checks import ConfigError, optimized_value
    from tests.conftest import compose

    metrics = train_fast()
    cfg = compose(["optimized_metric=val/accuracy"], tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"optimized_metric=val/accuracy was not logged by this run; use one of .*val/acc_best",
    ):
        optimized_value(cfg, metrics)
    assert optimized_value(compose([], tmp_path), metrics) == metrics["val/acc_best"]


def test_the_console_says_each_line_once_without_tips_and_ends_with_the_run_dir(tmp_path):
    """`make train` as a user sees it (model summary and config print on): no log message twice
    (Lightning's handler and Hydra's), no third-party tip, real FLOPs, the final metrics as a
    table and the run dir's path as the last line."""
    import re
    import subprocess
    import sys

    from tests.conftest import ROOT

    run = tmp_path / "run"
    args = [a for a in FAST if not a.startswith(("trainer.enable_model_summary", "extras.print"))]
    args += ["trainer.enable_model_summary=true", "extras.print_config=true"]  # both opt-in
    out = subprocess.run(
        [sys.executable, str(ROOT / "src" / "train.py"), f"hydra.run.dir={run}", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.stdout + out.stderr
    messages = [
        re.sub(r"^\[[^]]*\]\[[^]]*\]\[\w+\] - ", "", line).removeprefix("INFO: ")
        for line in text.splitlines()
        if re.match(r"^(\[\d{4}-|INFO: )", line)
    ]
    assert messages and len(messages) == len(set(messages)), messages
    assert "Tip" not in text and "Total FLOPs: 0\n" not in text and "Total FLOPs" in text
    assert "Final metrics" in text and "│ test/acc " in text
    assert out.stdout.rstrip().splitlines()[-1] == f"Run dir: {run}"


@pytest.mark.slow
def test_eval_takes_the_data_from_the_run_and_refuses_data_the_model_does_not_fit(tmp_path):
    """src/eval.py on a sequence run's checkpoint: the run's own data (not eval.yaml's digits),
    the same test accuracy; `data=digits` on the command line wins and is refused in one
    sentence (exit 2), no traceback."""
    import subprocess
    import sys

    from biaslab.run.train import train
    from tests.conftest import ROOT

    run = tmp_path / "run"
    seq = ["data=seq_majority", "model=seq_attn", "data.num_train=64", "data.num_val=32"]
    metrics = train(
        compose([*FAST, *seq, "data.num_test=32", "trainer.limit_test_batches=null"], run)
    )
    ckpt = next((run / "checkpoints").glob("epoch_*.ckpt"))
    base = [sys.executable, str(ROOT / "src" / "eval.py"), f"ckpt_path={ckpt}", "logger=csv"]
    same = subprocess.run(
        [*base, f"hydra.run.dir={tmp_path / 'eval'}"], cwd=tmp_path, capture_output=True, text=True
    )
    assert same.returncode == 0, same.stderr[-2000:]
    assert f"{metrics['test/acc']:.4f}"[:5] in same.stdout  # the run's own 32 test sequences
    other = subprocess.run(
        [*base, "data=digits", f"hydra.run.dir={tmp_path / 'eval2'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert len([ln for ln in other.stderr.splitlines() if ln.startswith("Error:")]) == 1
