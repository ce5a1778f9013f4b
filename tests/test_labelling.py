"""Token-level outputs: labelling tasks give a label per token; pooling=tokens and the loss and
metrics count every token as one example."""

from __future__ import annotations

import pytest
import torch

from biaslab.data.sequences import generate
from biaslab.errors import ConfigError
from biaslab.module import per_example


def test_labelling_tasks_label_every_token_by_their_rule():
    x, y = generate("rises", 50, 12, 16, seed=0)
    assert y.shape == x.shape and (y[:, 0] == 0).all()
    assert torch.equal(y[:, 1:], (x[:, 1:] > x[:, :-1]).long())
    x, y = generate("parity_at_position", 50, 12, 16, seed=0)
    assert torch.equal(y, (x + torch.arange(12)) % 2)


def test_per_example_flattens_tokens_and_passes_classification_through():
    logits, targets = torch.randn(4, 7, 3), torch.randint(0, 3, (4, 7))
    flat_logits, flat_targets = per_example(logits, targets)
    assert flat_logits.shape == (28, 3) and flat_targets.shape == (28,)
    assert torch.equal(flat_logits[8], logits[1, 1]) and flat_targets[8] == targets[1, 1]
    same = torch.randn(4, 3), torch.randint(0, 3, (4,))
    assert per_example(*same)[0] is same[0]


@pytest.mark.parametrize("model", ["seq_attn", "rnn"])
def test_a_labelling_run_learns_per_token_labels(model, train_fast):
    metrics = train_fast(
        f"model={model}",
        "data=seq_rises",
        "pooling=tokens",
        "data.num_train=2000",
        "trainer.limit_train_batches=null",
        "trainer.max_epochs=3",
        "data.length=8",
        "trainer.limit_val_batches=null",
        "trainer.limit_test_batches=null",
    )
    assert metrics["test/n"] == 1000 * 8  # every token of every test sequence
    assert metrics["test/acc"] > 0.75  # chance: about 0.5


def test_a_labelling_task_without_pooling_tokens_is_refused_before_training(train_fast):
    with pytest.raises(ConfigError, match="pooling=tokens"):
        train_fast("model=seq_attn", "data=seq_rises", "pooling=mean")
    with pytest.raises(ConfigError, match="pooling=tokens gives"):
        train_fast("model=seq_attn", "data=seq_majority", "pooling=tokens")
