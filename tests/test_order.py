"""Order is the only signal in the order-sensitive tasks: positions are needed, and suffice."""

from __future__ import annotations

import pytest

SHORT = [
    "model=seq_attn",
    "trainer.max_epochs=4",
    "trainer.limit_train_batches=null",
    "trainer.limit_val_batches=null",
    "trainer.limit_test_batches=null",
    "callbacks=none",
]


@pytest.mark.parametrize("pe", ["none", pytest.param("sinusoidal", marks=pytest.mark.slow)])
def test_order_sensitive_task_needs_positions(pe, train_fast):
    acc = train_fast(*SHORT, "data=seq_a_before_b", f"pe={pe}")["test/acc"]
    if pe == "none":
        assert abs(acc - 0.5) <= 0.10
    else:
        assert acc >= 0.95


@pytest.mark.parametrize("pe", ["none", pytest.param("sinusoidal", marks=pytest.mark.slow)])
def test_order_free_control_needs_no_positions(pe, train_fast):
    assert train_fast(*SHORT, "data=seq_contains_token", f"pe={pe}")["test/acc"] >= 0.95
