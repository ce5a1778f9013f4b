"""ALiBi's defining property: a per-head linear penalty on distance, through the attn_mask hook."""

from __future__ import annotations

import torch

from biaslab.models.alibi import ALiBiPE
from biaslab.models.attention import Encoder


def test_bias_is_minus_slope_times_distance_with_geometric_slopes():
    pe = ALiBiPE(dim=16, grid=(10,), heads=4)
    bias = pe.attn_bias(10)
    slopes = torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8])
    i, j = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    torch.testing.assert_close(bias, -slopes[:, None, None] * (i - j).abs().float())
    assert torch.equal(pe.add(torch.ones(2, 10, 16)), torch.ones(2, 10, 16))  # nothing added
    longer = pe.attn_bias(40)  # any length: the same penalty, extrapolated
    torch.testing.assert_close(longer[:, :10, :10], bias)


def test_on_a_grid_the_distance_is_between_cells():
    bias = ALiBiPE(dim=16, grid=(3, 4), heads=1).attn_bias(12)[0]
    assert bias[0, 5] == -(2.0**-8) * (2**0.5)  # (0,0) -> (1,1)
    assert bias[0, 3] == -(2.0**-8) * 3.0  # (0,0) -> (0,3)


def test_identical_tokens_attend_to_nearer_tokens_more():
    """With every token the same, content says nothing: the weights fall with distance."""
    torch.manual_seed(0)
    enc = Encoder(dim=16, depth=1, heads=2, grid=(9,), pe=ALiBiPE).eval()
    tokens = torch.randn(1, 1, 16).expand(1, 9, 16)
    captured = []
    enc.blocks[0].attn.on_weights = captured.append
    with torch.no_grad():
        enc(tokens)
    weights = captured[0][0, :, 4]  # (H, 9): query at the centre
    assert torch.all(weights[:, 4] > weights[:, 3]) and torch.all(weights[:, 3] > weights[:, 1])
    torch.testing.assert_close(weights[:, 3], weights[:, 5])  # symmetric in distance
