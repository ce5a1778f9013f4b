"""The locally connected layer: a conv's receptive field without weight sharing (B.3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from biaslab.models.cnn import CNN
from biaslab.models.local import LocalCNN, LocallyConnected2d


@pytest.mark.parametrize("stride", [1, 2])
def test_tied_weights_give_the_convolution_back(stride):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride=stride, padding=1)
    local = LocallyConnected2d.from_conv(conv, (9, 9))
    x = torch.randn(4, 3, 9, 9)
    torch.testing.assert_close(local(x), conv(x), atol=1e-5, rtol=1e-5)


def test_it_has_output_positions_times_the_convs_weights_and_each_position_its_own():
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    local = LocallyConnected2d(3, 5, 3, (7, 8), bias=False)
    assert local.weight.numel() == 7 * 8 * conv.weight.numel()
    # untied: changing the filter at one position changes that output position only
    x = torch.randn(1, 3, 7, 8)
    before = local(x)
    with torch.no_grad():
        local.weight[2 * 8 + 3] += 1.0  # position (row 2, column 3)
    changed = (local(x) - before).abs().sum(dim=1)[0] > 0
    assert changed.nonzero().tolist() == [[2, 3]]


def test_model_local_is_the_cnn_with_every_conv_replaced():
    cnn = CNN([1, 12, 12], channels=[4, 8], convs_per_stage=1, batch_norm=False)
    local = LocalCNN([1, 12, 12], channels=[4, 8], convs_per_stage=1, batch_norm=False)
    convs = [m for m in cnn.modules() if isinstance(m, nn.Conv2d)]
    locals_ = [m for m in local.modules() if isinstance(m, LocallyConnected2d)]
    assert len(convs) == len(locals_) == 2 and not any(
        isinstance(m, nn.Conv2d) for m in local.modules()
    )
    assert [lc.out_hw for lc in locals_] == [(12, 12), (6, 6)]
    x = torch.randn(2, 1, 12, 12)
    assert local(x).shape == cnn(x).shape == (2, 8, 6, 6)
    with pytest.raises(ValueError, match="fixed input size"):
        local(torch.randn(2, 1, 14, 14))
