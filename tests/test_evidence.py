"""What a claim needs: the later checkpoint on ties, train-set metrics in eval mode, per-example
predictions and the per-epoch history, checked against independent computations."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch


def test_ties_on_val_acc_go_to_the_later_checkpoint(train_fast, tmp_path):
    train_fast(
        "optimizer.lr=1e-12",
        "scheduler=none",
        "trainer.max_epochs=3",
        "trainer.limit_val_batches=null",
    )
    (best,) = sorted((tmp_path / "checkpoints").glob("epoch_*.ckpt"))
    assert (
        best.name == "epoch_002.ckpt"
    )  # lr 1e-12: every epoch ties; Lightning's own keeps epoch 0


def test_train_set_metrics_in_eval_mode_predictions_and_history(train_fast, tmp_path):
    from biaslab.data.digits import DigitsDataModule
    from biaslab.module import Classifier

    metrics = train_fast(
        "augment=flip_crop", "trainer.max_epochs=2", "trainer.limit_test_batches=null"
    )
    (best,) = (tmp_path / "checkpoints").glob("epoch_*.ckpt")
    model = Classifier.load_from_checkpoint(best, map_location="cpu").eval()
    dm = DigitsDataModule(num_classes=10, input_shape=(1, 8, 8))
    dm.setup()
    x, y = dm.splits["train"]
    with torch.no_grad():
        logits = model(x)  # the whole split at once, no augmentation
    assert metrics["train_eval_best/acc"] == (logits.argmax(-1) == y).float().mean().item()
    ce = float(torch.nn.functional.cross_entropy(logits, y))
    assert abs(metrics["train_eval_best/loss"] - ce) < 1e-4  # the best checkpoint's weights
    assert metrics["gap/acc"] == metrics["train_eval_best/acc"] - metrics["test/acc"]
    last = Classifier.load_from_checkpoint(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu"
    )
    with torch.no_grad():
        final = last.eval()(x)  # the final weights: what train_eval/* reads
    assert metrics["train_eval/acc"] == (final.argmax(-1) == y).float().mean().item()
    p_true = final.softmax(-1)[torch.arange(len(y)), y]
    assert metrics["train_eval/saturated_wrong"] == pytest.approx((p_true < 0.01).float().mean())
    saved = np.load(tmp_path / "predictions.npz")
    assert len(saved["pred"]) == metrics["test/n"] == len(dm.splits["test"][1])
    assert (saved["pred"] == saved["target"]).mean() == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert "test_last/acc" in metrics and metrics["time/steps"] == 6
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[-1]["train/loss"]) == metrics["train/loss"]
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["train_eval/acc"]
        == metrics["train_eval/acc"]
    )


def test_history_from_an_older_run_is_widened_not_broken(tmp_path):
    from biaslab.callbacks.evidence import append_row

    path = tmp_path / "history.csv"
    path.write_text("epoch,step\n0,5\n")  # written by a version with fewer columns
    append_row(path, {"epoch": 1, "step": 10, "wall_s": 2.5}, ["epoch", "step", "wall_s"])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {"epoch": "0", "step": "5", "wall_s": ""},
        {"epoch": "1", "step": "10", "wall_s": "2.5"},
    ]


def test_mse_sums_over_classes_and_on_logits_has_no_softmax():
    from biaslab.losses import OneHotMSE

    torch.manual_seed(0)
    logits, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    onehot = torch.nn.functional.one_hot(y, 10).float()
    by_hand = (logits.softmax(-1) - onehot).pow(2).sum(-1).mean()
    assert torch.isclose(OneHotMSE()(logits, y), by_hand)
    assert torch.isclose(OneHotMSE(reduction="mean")(logits, y), by_hand / 10)
    assert torch.isclose(
        OneHotMSE(softmax=False)(logits, y), (logits - onehot).pow(2).sum(-1).mean()
    )
    with pytest.raises(ValueError, match=r"^reduction='none'"):
        OneHotMSE(reduction="none")
