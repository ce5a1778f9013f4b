"""Attention paths agree; positions break permutation symmetry; PE values match the formula."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from biaslab.models.attention import MultiHeadSelfAttention, naive_attention
from biaslab.models.net import build_net
from biaslab.models.pe import LearnedPE, RotaryPE, Sinusoidal2dPE, SinusoidalPE
from tests.conftest import compose, group_options


@pytest.mark.parametrize(("dim", "heads"), [(32, 1), (32, 4), (48, 8)])
def test_sdpa_equals_naive_equals_torch_multihead(dim, heads):
    torch.manual_seed(0)
    ours = MultiHeadSelfAttention(dim, heads).eval()
    ref = torch.nn.MultiheadAttention(dim, heads, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 11, dim)
    fast = ours(x)
    naive = ours(x, naive=True)
    expected, _ = ref(x, x, x, need_weights=False)
    torch.testing.assert_close(fast, naive, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=1e-5)


def test_stored_weights_sum_to_one_and_reproduce_output():
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(32, 4).eval()
    captured = []
    attn.on_weights = captured.append
    x = torch.randn(2, 7, 32)
    out = attn(x)
    (w,) = captured
    assert w.shape == (2, 4, 7, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 7))
    q, k, v = attn.qkv(x).view(2, 7, 3, 4, 8).permute(2, 0, 3, 1, 4)
    rebuilt = attn.proj((w @ v).transpose(1, 2).reshape(2, 7, 32))
    torch.testing.assert_close(rebuilt, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(naive_attention(q, k, v)[1], w)


def _net(model: str, pooling: str, pe: str, tmp_path, *extra: str):
    cfg = compose([f"model={model}", f"pooling={pooling}", f"pe={pe}", *extra], tmp_path)
    m = OmegaConf.to_container(cfg.module, resolve=True)
    torch.manual_seed(0)
    return build_net(m["backbone"], m["pooling"], m["head"], 10, m["input_shape"]).eval()


def _logits_with_permuted_tokens(net, images, perm):
    tokens = net.backbone.embed(images)
    if perm is not None:
        tokens = tokens[:, perm]
    return net.forward_head(net.backbone.encoder(tokens))


def _logits_before_and_after_permutation(net):
    """Logits for a random batch, and for the same batch with its tokens in a fixed shuffle."""
    images = torch.randn(4, 1, 8, 8)
    n = net.backbone.embed(images).shape[1]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return (
            _logits_with_permuted_tokens(net, images, None),
            _logits_with_permuted_tokens(net, images, perm),
        )


@pytest.mark.parametrize("model", ["seq_attn", "vit"])
@pytest.mark.parametrize("pooling", ["mean", "max", "attn"])
def test_without_positions_attention_is_permutation_invariant(model, pooling, tmp_path):
    net = _net(model, pooling, "none", tmp_path)
    base, permuted = _logits_before_and_after_permutation(net)
    torch.testing.assert_close(base, permuted, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model", ["seq_attn", "vit"])
@pytest.mark.parametrize("pe", ["sinusoidal", "learned", "rope"])
def test_positions_break_permutation_invariance(model, pe, tmp_path):
    net = _net(model, "mean", pe, tmp_path)
    base, permuted = _logits_before_and_after_permutation(net)
    assert (base - permuted).abs().max() > 1e-4


@pytest.mark.parametrize(("pos", "i"), [(0, 0), (1, 0), (5, 3), (17, 7), (100, 15), (999, 31)])
def test_sinusoidal_equals_the_formula(pos, i):
    d = 64
    table = SinusoidalPE(d, grid=(1000,)).table
    angle = pos / 10000 ** (2 * i / d)
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_extrapolates_past_its_built_length():
    pe = SinusoidalPE(16, grid=(8,))
    out = pe(torch.zeros(1, 40, 16))
    torch.testing.assert_close(out[0], SinusoidalPE(16, grid=(40,)).table)


def test_sinusoidal_2d_encodes_rows_then_columns():
    pe = Sinusoidal2dPE(16, grid=(3, 4))
    table = pe.table.view(3, 4, 16)
    torch.testing.assert_close(table[0, :, :8], table[0, :1, :8].expand(4, 8))  # row half
    torch.testing.assert_close(table[:, 0, 8:], table[:1, 0, 8:].expand(3, 8))  # column half


def test_learned_pe_is_a_bert_table():
    torch.manual_seed(0)
    pe = LearnedPE(64, max_len=512)
    assert pe.table.shape == (512, 64)
    assert pe.table.std().item() == pytest.approx(0.02, rel=0.1)
    with pytest.raises(ValueError, match=r"pe\.max_len=512"):
        pe(torch.zeros(1, 513, 64))


def test_rope_scores_depend_on_relative_position_only():
    rope = RotaryPE(8)
    torch.manual_seed(0)
    q = torch.randn(1, 1, 1, 8).expand(1, 1, 12, 8)
    k = torch.randn(1, 1, 1, 8).expand(1, 1, 12, 8)
    q, k = rope.rotate(q, k)
    scores = q @ k.transpose(-2, -1)  # (1, 1, 12, 12)
    diag = torch.diagonal(scores[0, 0], offset=2)
    torch.testing.assert_close(diag, diag[:1].expand_as(diag), atol=1e-5, rtol=1e-5)


def test_pe_group_configs_build(tmp_path):
    for pe in group_options("pe"):
        cfg = compose([f"pe={pe}"], tmp_path)
        module = instantiate(cfg.pe)(dim=16, grid=(4, 4))
        assert module(torch.zeros(2, 16, 16)).shape == (2, 16, 16)


def test_capture_attention_records_every_layer_and_restores_state_on_error(tmp_path):
    net = _net("vit", "cls", "learned", tmp_path, "pe.max_len=16")
    backbone = net.backbone
    images = torch.randn(2, 1, 8, 8)
    with torch.no_grad(), backbone.capture_attention() as maps:
        fast = net(images)
    assert len(maps) == len(backbone.encoder.blocks)
    n = 1 + math.prod(backbone.token_grid)  # the class token and the patch grid
    assert all(w.shape == (2, 4, n, n) for w in maps)
    with pytest.raises(RuntimeError, match="boom"), backbone.capture_attention():
        raise RuntimeError("boom")
    layers = [b.attn for b in backbone.encoder.blocks]
    assert all(a.on_weights is None for a in layers)  # the fast path again
    with torch.no_grad():
        torch.testing.assert_close(net(images), fast, atol=1e-5, rtol=1e-5)


def test_attention_free_backbones_capture_nothing(tmp_path):
    net = _net("cnn", "mean", "none", tmp_path)
    with torch.no_grad(), net.backbone.capture_attention() as maps:
        net(torch.randn(2, 1, 8, 8))
    assert maps == [] and net.backbone.token_grid is None and not net.backbone.uses_pe


def test_additive_mask_reaches_both_attention_paths():
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(16, 2).eval()
    x = torch.randn(2, 5, 16)
    mask = torch.zeros(5, 5)
    mask[:, 3:] = float("-inf")  # nobody may attend to tokens 3 and 4
    captured = []
    attn.on_weights = captured.append
    naive = attn(x, attn_mask=mask)
    attn.on_weights = None
    torch.testing.assert_close(attn(x, attn_mask=mask), naive, atol=1e-5, rtol=1e-5)
    assert captured[0][..., 3:].abs().max() == 0
    x_changed = x.clone()
    x_changed[:, 3:] += 5.0  # masked tokens change: unmasked queries' outputs must not
    torch.testing.assert_close(
        attn(x_changed, attn_mask=mask)[:, :3], naive[:, :3], atol=1e-5, rtol=1e-5
    )
