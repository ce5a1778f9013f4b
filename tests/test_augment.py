"""Batched augmentation: per-sample randomness, exact geometry, soft targets; every option runs."""

from __future__ import annotations

import pytest
import torch

from biaslab.data.augment import BatchMix, FlipCrop, RotateScale, Translate, affine, random_crop
from biaslab.errors import ConfigError
from biaslab.run.build import build_components
from tests.conftest import compose, group_options

FILE_ONLY = {"randaugment", "trivialaugment"}


def test_random_crop_is_a_per_sample_shift():
    torch.manual_seed(0)
    images = torch.arange(64.0).view(1, 1, 8, 8).expand(32, 1, 8, 8).contiguous()
    out = random_crop(images, pad=2)
    assert out.shape == images.shape
    # each output is the input shifted by some (dy, dx) in [-2, 2]; different samples differ
    assert len({tuple(o.flatten()[:3].tolist()) for o in out}) > 3
    centre = out[:, 0, 3, 3]
    assert set((centre - 27).tolist()) <= {
        dy * 8 + dx for dy in range(-2, 3) for dx in range(-2, 3)
    }


def test_flip_crop_and_translate_keep_shape_and_content():
    x = torch.randn(16, 3, 8, 8)
    assert FlipCrop(pad=0, flip=True)(x).abs().sum() == pytest.approx(
        x.abs().sum().item(), rel=1e-5
    )
    assert Translate(1)(x).shape == x.shape


def test_crop_flip_mirrors_about_half_the_samples():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 6).expand(200, 2, 6, 6).contiguous()
    out = random_crop(x, pad=0, flip=True)
    mirrored = torch.tensor([torch.equal(o, x[0].flip(-1)) for o in out])
    kept = torch.tensor([torch.equal(o, x[0]) for o in out])
    assert bool((mirrored | kept).all()) and 60 < int(mirrored.sum()) < 140


def test_affine_identity_and_rotation():
    x = torch.randn(4, 1, 9, 9)
    same = affine(x, torch.zeros(4), torch.ones(4))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=1e-5)
    quarter = affine(x, torch.full((4,), 90.0), torch.ones(4))
    torch.testing.assert_close(quarter, torch.rot90(x, k=1, dims=(-2, -1)), atol=1e-4, rtol=1e-4)


def test_rotate_scale_differs_per_sample():
    x = torch.randn(1, 1, 8, 8).expand(8, 1, 8, 8)
    out = RotateScale(30.0)(x)
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_batch_mix_gives_soft_targets(kind):
    images, labels = torch.randn(8, 1, 8, 8), torch.arange(8) % 4
    mixed, soft = BatchMix(kind, alpha=1.0, num_classes=4)(images, labels)
    assert mixed.shape == images.shape and soft.shape == (8, 4)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(8))


@pytest.mark.parametrize("option", group_options("augment"))
def test_every_augment_option(option, train_fast, tmp_path):
    if option in FILE_ONLY:
        with pytest.raises(ConfigError, match=r"augment.sample .* needs file-backed data"):
            build_components(compose([f"augment={option}"], tmp_path))
        return
    metrics = train_fast(f"augment={option}")
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))


@pytest.mark.parametrize("option", sorted(FILE_ONLY))
def test_file_backed_augment_on_image_folder(option, tmp_path, train_fast):
    from tests.data_files import write_image_folder

    root = write_image_folder(tmp_path / "imgs")
    metrics = train_fast(
        "data=imagefolder",
        f"data.root={root}",
        "data.image_size=16",
        "data.num_workers=0",
        f"augment={option}",
        path=tmp_path / "run",
    )
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
