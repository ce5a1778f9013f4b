"""Every experiment preset composes and runs one fast step per arm (seed 0)."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.conftest import compose, group_options

RECIPES = {
    "cifar10_speed",
    "fashion_mnist_cnn",
    "fashion_mnist_gpu",
    "data_scaling_fmnist",
}  # real data
PRESETS = [p for p in group_options("experiment") if p not in RECIPES]
STEP = ["trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1", "callbacks=none", "data.num_train=64", "data.num_val=64",
        "data.num_test=64"]  # fmt: skip


def arms(preset: str, tmp_path) -> list[list[str]]:
    cfg = compose([f"experiment={preset}"], tmp_path, keep_hydra=True)
    params = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items() if k != "seed"}
    return [
        [f"{k}={v}" for k, v in zip(params, values)]
        for values in itertools.product(*params.values())
    ]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_one_step_per_arm(preset, train_fast, tmp_path):
    for i, arm in enumerate(arms(preset, tmp_path)):
        overrides = [f"experiment={preset}", "hydra.mode=RUN", *arm, "seed=0"]
        seq = any(a.startswith("data=seq") for a in arm) or preset in ("pe", "attn_vs_rnn")
        metrics = train_fast(*overrides, *(STEP if seq else STEP[:5]), path=tmp_path / str(i))
        assert torch.isfinite(torch.tensor(metrics["train/loss"])), arm


def test_a_tuned_preset_picks_each_arms_better_lr_then_runs_its_seeds(tmp_path):
    """lr 0 cannot learn, lr 0.05 can: tuning must pick 0.05 for each arm, on validation, and the
    seeds then run at it; the report says what was chosen."""
    import json

    from biaslab.presets import run_preset

    fast = ["trainer.max_epochs=2", "trainer.limit_train_batches=6", "trainer.limit_test_batches=1",
            "hydra.sweeper.params.optimizer='sgd,adam'", "hydra.sweeper.params.seed=0",
            "tune.grid={optimizer.lr:[0.0,0.05]}"]  # fmt: skip
    final = run_preset("optimizers", fast, out=tmp_path / "optimizers")
    chosen = json.loads((final / "tuning.json").read_text())
    assert {k: v["chosen"] for k, v in chosen.items()} == {
        "optimizer-adam": {"optimizer.lr": "0.05"},
        "optimizer-sgd": {"optimizer.lr": "0.05"},
    }
    for entry in chosen.values():
        assert entry["scores"]["0.05"] > entry["scores"]["0.0"]
    import yaml

    for job in final.glob("*/0/.hydra/overrides.yaml"):
        assert "optimizer.lr=0.05" in yaml.safe_load(job.read_text())
    report = (final / "report" / "report.md").read_text()
    assert (
        "- optimizer=adam: **optimizer.lr=0.05**" in report and "| optimizer=adam | 1 |" in report
    )
