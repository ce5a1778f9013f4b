"""Post-LN blocks put the norm after the residual sum; additive attention is Bahdanau's score."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from biaslab.models.attention import (
    Block,
    MultiHeadSelfAttention,
    additive_attention,
    fixed_form_attention,
)


@pytest.mark.parametrize("norm_first", [True, False])
def test_post_ln_normalises_after_the_residual_sum(norm_first):
    torch.manual_seed(0)
    block = Block(16, 2, norm_first=norm_first).eval()
    x = 5 + 3 * torch.randn(2, 7, 16)  # far from zero mean / unit variance
    with torch.no_grad():
        out = block(x)
        by_hand = block.norm2(
            (h := block.norm1(x + block.attn(x))) + block.mlp(h)
        )  # LN(x + attn(x)), then LN(. + MLP(.))
    normalised = (
        out.mean(-1).abs().max() < 1e-4 and (out.std(-1, unbiased=False) - 1).abs().max() < 1e-3
    )
    assert normalised == (not norm_first)  # a pre-LN block's output keeps the residual's scale
    if not norm_first:
        torch.testing.assert_close(out, by_hand)


def test_additive_scores_are_w_tanh_q_plus_k_and_take_the_mask():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4, 8) for _ in range(3))
    w = torch.randn(2, 8)
    mask = torch.zeros(4, 4)
    mask[:, 3] = float("-inf")
    out, weights = additive_attention(q, k, v, w, attn_mask=mask)
    scores = torch.stack(
        [
            torch.stack(
                [
                    torch.stack([w[h] @ torch.tanh(q[0, h, i] + k[0, h, j]) for j in range(4)])
                    for i in range(4)
                ]
            )
            for h in range(2)
        ]
    )
    expected = (scores + mask).softmax(-1)
    torch.testing.assert_close(weights[0], expected)
    torch.testing.assert_close(out, weights @ v)
    assert weights[..., 3].abs().max() == 0


def test_gat_scores_are_leaky_relu_of_a_sum_and_mean_scores_average_the_masked_values():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4, 8) for _ in range(3))
    a = torch.randn(2, 2, 8)
    mask = torch.zeros(4, 4)
    mask[0, 2:] = float("-inf")  # node 0 sees nodes 0 and 1 only
    out, weights = fixed_form_attention(q, k, v, a, attn_mask=mask)
    for h in range(2):
        for i in range(4):
            e = torch.stack(
                [F.leaky_relu(a[0, h] @ q[0, h, i] + a[1, h] @ k[0, h, j], 0.2) for j in range(4)]
            )
            torch.testing.assert_close(weights[0, h, i], (e + mask[i]).softmax(-1))
    out, weights = fixed_form_attention(q, k, v, None, attn_mask=mask)
    torch.testing.assert_close(out[0, :, 0], v[0, :, :2].mean(1))  # the mean of nodes 0 and 1
    torch.testing.assert_close(out[0, :, 3], v[0].mean(1))


def test_attention_module_runs_additive_scores_and_refuses_unknown_ones():
    attn = MultiHeadSelfAttention(16, 4, score="additive").eval()
    captured = []
    attn.on_weights = captured.append
    assert attn(torch.randn(2, 5, 16)).shape == (2, 5, 16) and captured[0].shape == (2, 4, 5, 5)
    with pytest.raises(ValueError, match=r"^score='cosine'"):  # the layer names its argument
        MultiHeadSelfAttention(16, 4, score="cosine")


@pytest.mark.parametrize(
    "overrides", [["model.backbone.norm_first=false"], ["model.backbone.score=additive"]]
)
def test_vit_options_train_a_step(overrides, train_fast):
    metrics = train_fast("model=vit", *overrides)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
