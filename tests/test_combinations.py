"""Every model x pooling x pe x head combination, read from conf/: valid ones train a step,
invalid ones (a pooling that does not take the backbone's layout) explain in one sentence."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import get_class

from biaslab.errors import ConfigError
from biaslab.models.layouts import fits
from biaslab.run.build import build_components
from biaslab.run.checks import validate
from tests.conftest import backbones, compose, group_options


def _cases():
    """Every backbone that takes images (digits here), one model option each."""
    for model, backbone in backbones().items():
        if "image" not in backbone.modalities:
            continue
        # positional encodings only matter to backbones that use them: the rest try the default
        pes = group_options("pe") if backbone.uses_pe else ["sinusoidal"]
        for pooling in group_options("pooling"):
            for pe in pes:
                for head in group_options("head"):
                    yield model, pooling, pe, head


CASES = list(_cases())


@pytest.fixture(scope="module")
def digits_batch():
    from biaslab.data.digits import DigitsDataModule

    dm = DigitsDataModule(num_classes=10, input_shape=(1, 8, 8))
    dm.setup()
    x, y = dm.splits["train"]
    return x[:16], y[:16]


@pytest.mark.parametrize(
    ("model", "pooling", "pe", "head"), CASES, ids=["-".join(c) for c in CASES]
)
def test_combination(model, pooling, pe, head, digits_batch, tmp_path):
    overrides = [f"model={model}", f"pooling={pooling}", f"pe={pe}", f"head={head}"]
    if model == "vit" and pe == "learned":
        overrides.append("pe.max_len=16")
    cfg = compose(overrides, tmp_path)
    pool_cls, body_cls = get_class(cfg.pooling._target_), get_class(cfg.model.backbone._target_)
    if not fits(pool_cls, body_cls):  # the layouts declared on both sides decide
        with pytest.raises(ConfigError, match=f"pooling={pooling} does not fit model.backbone"):
            build_components(cfg)
        return
    if pooling == "tokens":  # a label per token, but digits has one label per image
        with pytest.raises(ConfigError, match="pooling=tokens gives a label per token"):
            build_components(cfg)
        return
    _, module = build_components(cfg)
    x, y = digits_batch
    loss = module.criterion(module(x), y)
    loss.backward()
    grads = [p.grad for p in module.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert torch.isfinite(loss)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model=vit", "model.backbone.patch_size=3"],
            "model.backbone.patch_size=3 does not divide the 8x8 images; pick a patch size that divides 8.",
        ),
        (
            ["model=seq_attn", "model.backbone.tokens=patches", "model.backbone.patch_size=5"],
            "model.backbone.patch_size=5 does not divide the 8x8 images",
        ),
        (
            ["model=seq_attn", "model.backbone.tokens=pixels", "pe=learned", "pe.max_len=32"],
            "pe.max_len=32 is shorter than the model's 64 tokens; set pe.max_len>=64",
        ),
        (
            ["model=vit", "model.backbone.dim=30", "model.backbone.heads=4"],
            "model.backbone.dim=30 is not divisible by heads=4; choose heads that divide dim.",
        ),
        (
            ["model=vit", "model.backbone.dim=63", "model.backbone.heads=3", "pe=sinusoidal"],
            "pe=sinusoidal needs an even model.backbone.dim (got 63)",
        ),
        (
            ["model=vit", "model.backbone.dim=66", "model.backbone.heads=3", "pe=sinusoidal_2d"],
            "pe=sinusoidal_2d needs model.backbone.dim divisible by 4 (got 66)",
        ),
        (
            ["model=vit", "model.backbone.dim=36", "model.backbone.heads=4", "pe=rope"],
            "pe=rope needs an even head width",
        ),
        (
            ["model=vit", "model.backbone.score=cosine"],
            "model.backbone.score='cosine': choose one of ('dot', 'additive', 'gat', 'mean').",
        ),
        (
            ["model=cnn", "pooling=cls"],
            "pooling=cls does not fit model.backbone CNN (it takes tokens with a class token; "
            "the backbone emits grid (B, C, H, W), a feature map); pick one of pooling=",
        ),
    ],
)
def test_clear_errors(overrides, message, tmp_path):
    cfg = compose(overrides, tmp_path)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
        build_components(cfg)
    assert message in str(err.value)
    assert str(err.value).count(". ") == 0  # one sentence


def test_clear_error_stops_the_run_before_training(tmp_path):
    from biaslab.run.train import train

    cfg = compose(["model=cnn", "pooling=cls", "logger=csv"], tmp_path)
    with pytest.raises(ConfigError):
        train(cfg)
    assert not (tmp_path / "checkpoints").exists()
