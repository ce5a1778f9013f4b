"""Plain vs residual depth (A.2): the same parameters, an identity path around each layer."""

from __future__ import annotations

import torch

from biaslab.models.cnn import CNN, Residual
from biaslab.models.fc import FC


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_residual_cnn_has_the_plain_cnns_parameters_and_an_identity_path():
    kw = dict(input_shape=[1, 8, 8], channels=[4, 8], convs_per_stage=4, batch_norm=False)
    plain, res = CNN(**kw), CNN(**kw, residual=True)
    assert _count(plain) == _count(res)
    blocks = [m for m in res.modules() if isinstance(m, Residual)]
    assert len(blocks) == 2 * 3  # every conv after a stage's first
    # zero every residual body: each block is then act(x + 0) = relu(x), so the net equals the
    # net with those convs removed, while the plain net with zeroed convs outputs only zeros
    with torch.no_grad():
        for b in blocks:
            for p in b.body.parameters():
                p.zero_()
    x = torch.randn(2, 1, 8, 8)
    short = CNN([1, 8, 8], channels=[4, 8], convs_per_stage=1, batch_norm=False)
    short.load_state_dict(
        {
            k: v
            for k, v in zip(
                short.state_dict(),
                [
                    res.features[0].weight,
                    res.features[0].bias,
                    res.features[6].weight,
                    res.features[6].bias,
                ],
            )
        }
    )
    torch.testing.assert_close(res(x), short(x))


def test_mlp_depth_residual_and_batch_norm_options():
    plain = FC([1, 8, 8], hidden=[16] * 6)
    res = FC([1, 8, 8], hidden=[16] * 6, residual=True)
    bn = FC([1, 8, 8], hidden=[16] * 6, residual=True, batch_norm=True)
    assert _count(plain) == _count(res)
    assert sum(isinstance(m, Residual) for m in res.modules()) == 5  # width changes at the first
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in bn.modules()) == 6
    assert res(torch.randn(3, 1, 8, 8)).shape == (3, 1, 16)
