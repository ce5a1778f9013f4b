"""The contracts, read from conf/ and the code, never from hand lists: every data set trains with
a model that takes its modality, every backbone trains on each modality it takes, every
registered sequence task trains, a data set declared with only the three required keys gets the
shared ones, and a model refuses data of a modality it does not take. A new file in conf/data,
conf/model or biaslab/data/tasks/ is trained here without editing this file."""

from __future__ import annotations

import functools
import math
import subprocess
import sys

import pytest
import torch
from hydra.utils import get_class, instantiate

from biaslab.data.tasks import tasks
from biaslab.errors import ConfigError
from biaslab.models.backbone import Backbone
from biaslab.models.layouts import fits
from biaslab.models.registry import classes
from biaslab.run.build import build_components
from tests.conftest import CONF, ROOT, backbones, compose, group_options

SMALL = {"image_size": 16, "num_workers": 0, "download": False, "verify_checksums": False}


def data_overrides(name: str, root) -> list[str]:
    """`data=name` made small and offline from the keys its node has (no per-name knowledge)."""
    node = data_node(name)
    extra = [f"data.{k}={str(v).lower()}" for k, v in SMALL.items() if k in node]
    return [f"data={name}", f"paths.data_dir={root}", "data.batch_size=8", *extra]


@functools.cache
def data_node(name: str):
    """`data=name` composed once (collection asks for each data set many times)."""
    return compose([f"data={name}"]).data


def modality(name: str) -> str:
    return get_class(data_node(name)._target_).modality


def labels_tokens(overrides: list[str], tmp_path) -> bool:
    """Does this data label every token (sequence labelling, node classes)?"""
    dm = instantiate(compose(overrides, tmp_path).data)
    return bool(getattr(dm, "labels_per_token", False))


def takers(kind: str, tokens: bool) -> list[str]:
    """Model options whose backbone takes `kind` data (and fits pooling=tokens if needed)."""
    per_token = classes("pooling")["tokens"]
    return [
        m
        for m, b in backbones().items()
        if kind in b.modalities and (not tokens or fits(per_token, b))
    ]


@pytest.mark.parametrize("name", group_options("data"))
def test_every_data_set_trains_with_a_model_that_takes_it(name, data_root, train_fast, tmp_path):
    overrides = data_overrides(name, data_root)
    tokens = labels_tokens(overrides, tmp_path)
    pooling = ["pooling=tokens"] if tokens else []
    candidates = takers(modality(name), tokens)
    assert candidates, f"no model takes {modality(name)} data"
    for model in candidates:  # the first whose sizes fit this data (a ViT's patch, say)
        try:
            build_components(compose([*overrides, f"model={model}", *pooling], tmp_path))
        except ConfigError:
            continue
        metrics = train_fast(*overrides, f"model={model}", *pooling)
        assert math.isfinite(metrics["train/loss"]) and 0.0 <= metrics["test/acc"] <= 1.0
        return
    pytest.fail(f"data={name}: none of {candidates} builds on it")


def _backbone_cases():
    """(model, data) for every backbone and each modality it takes, on the data set of that
    modality with the fewest input values."""
    by_kind: dict[str, list[str]] = {}
    for name in group_options("data"):
        by_kind.setdefault(modality(name), []).append(name)

    def size(name: str) -> int:
        return math.prod(int(s) for s in data_node(name).input_shape)

    for model, backbone in backbones().items():
        for kind in backbone.modalities:
            if kind in by_kind:
                yield model, min(by_kind[kind], key=lambda n: (size(n), n))


@pytest.mark.parametrize(("model", "data"), list(_backbone_cases()))
def test_every_backbone_trains_on_each_modality_it_takes(
    model, data, data_root, train_fast, tmp_path
):
    overrides = [*data_overrides(data, data_root), f"model={model}"]
    if labels_tokens(overrides, tmp_path):
        overrides.append("pooling=tokens")
    metrics = train_fast(*overrides)
    assert math.isfinite(metrics["train/loss"])


@pytest.mark.parametrize("task", sorted(tasks()))
def test_every_registered_sequence_task_trains(task, train_fast):
    spec = tasks()[task]
    extra = ["pooling=tokens"] if spec.labelling else []
    metrics = train_fast(
        "data=sequence",
        f"data.task={task}",
        "data.num_classes=4",
        "model=seq_attn",
        "data.num_train=64",
        "data.num_val=32",
        "data.num_test=32",
        *extra,
    )
    assert math.isfinite(metrics["train/loss"])


def test_a_data_set_of_three_keys_gets_mixup_and_follows_the_seed(tmp_path):
    """The recipe of docs/architecture.md: `_target_`, `num_classes`, `input_shape` and nothing
    else; the shared keys (batch sizes, seeds, augment, subsampling) come from data_defaults."""
    conf = tmp_path / "conf"
    (conf / "data").mkdir(parents=True)
    (conf / "data" / "tiny_digits.yaml").write_text(
        "_target_: biaslab.data.digits.DigitsDataModule\nnum_classes: 10\ninput_shape: [1, 8, 8]\n"
    )
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = hydra_compose(
            "train",
            overrides=[
                f"hydra.searchpath=[file://{conf}]",
                "data=tiny_digits",
                "augment=mixup",
                "seed=7",
            ],
        )
    dm = instantiate(cfg.data)
    assert dm.batch_mix is not None and dm.shuffle_seed == 7
    x = torch.zeros(4, 1, 8, 8)
    _, soft = dm.batch_mix(x, torch.tensor([0, 1, 2, 3]))
    assert soft.shape == (4, 10)  # mixup's soft targets


@pytest.mark.parametrize(
    "data,model",
    [
        ("blobs", "seq_attn"),
        pytest.param("blobs", "rnn", marks=pytest.mark.slow),
        pytest.param("seq_rises", "cnn", marks=pytest.mark.slow),
    ],
)
def test_a_model_refuses_data_of_another_modality_in_one_sentence(data, model, tmp_path):
    """Through the command line, as a user types it: exit 2, one line naming both options."""
    out = subprocess.run(
        [
            sys.executable,
            "src/train.py",
            f"data={data}",
            f"model={model}",
            "logger=csv",
            f"hydra.run.dir={tmp_path / model}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in out.stderr
    assert f"model={model}" in errors[0] and f"data={data}" in errors[0]
    assert not (tmp_path / model / "checkpoints").exists()  # refused before training


class SetsEmbed(Backbone):
    """Issue 48's ConvMixer: a layer stored as `self.embed`, shadowed by the contract's method."""

    emits = "grid"

    def __init__(self, input_shape) -> None:
        super().__init__()
        self.embed = torch.nn.Conv2d(1, 4, 2, stride=2)
        self.num_features = 4

    def forward(self, images):
        return self.embed(images)


class RecordsItsOwnAttention(SetsEmbed):
    def capture_attention(self):  # the contract's context manager, redefined
        return []


class EmbedsTwoInputs(SetsEmbed):
    def embed(self, images, extra):
        return images


class DeclaresNoLayout(SetsEmbed):
    emits = None


class SetsNoWidth(Backbone):
    emits = "grid"

    def __init__(self, input_shape) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 2, stride=2)

    def forward(self, images):
        return self.conv(images)


class PermutableWithoutSplit(SetsNoWidth):
    permutable = True


@pytest.mark.parametrize(
    ("backbone", "message"),
    [
        (SetsEmbed, "SetsEmbed sets self.embed, but embed is a method of the Backbone contract"),
        (RecordsItsOwnAttention, "RecordsItsOwnAttention defines capture_attention, which the"),
        (EmbedsTwoInputs, "EmbedsTwoInputs.embed must be a method taking one input"),
        (DeclaresNoLayout, "DeclaresNoLayout.emits=None breaks the Backbone contract; declare"),
        (SetsNoWidth, "SetsNoWidth.num_features=None: set self.num_features in __init__"),
        (PermutableWithoutSplit, "PermutableWithoutSplit is permutable but does not define both"),
        (torch.nn.Conv2d, "model.backbone Conv2d is not a biaslab.models.backbone.Backbone"),
    ],
)
def test_a_backbone_that_breaks_its_contract_is_refused_at_build_naming_the_member(
    backbone, message
):
    """Refused by build_net before any dry run, in one sentence naming the member."""
    from biaslab.models.net import build_net

    target = f"{backbone.__module__}.{backbone.__qualname__}"
    with pytest.raises(ValueError) as err:
        build_net(
            {"_target_": target, "input_shape": [1, 8, 8]},
            {"_target_": "biaslab.models.pooling.MeanPool"},
            {"_target_": "biaslab.models.heads.LinearHead"},
            num_classes=10,
            input_shape=[1, 8, 8],
        )
    assert message in str(err.value)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


def test_every_backbone_of_conf_keeps_its_contract_and_a_pooling_fits_it():
    """The backbones conf/model names pass the class check, and each fits some pooling of
    conf/pooling (both read from the folders)."""
    from biaslab.models.backbone import check_backbone

    poolings = classes("pooling").values()
    assert sorted(classes("pooling")) == group_options("pooling")  # the registry is the group
    for model, backbone in backbones().items():
        check_backbone(backbone)
        assert any(fits(p, backbone) for p in poolings), model


class PlainPool(torch.nn.Module):
    """A pooling that declares no `takes` (not a `Pooling`): it fits no backbone."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()

    def forward(self, features):
        return features.flatten(1)


def test_a_pooling_that_declares_no_layout_is_refused_naming_takes():
    from biaslab.models.net import build_net

    with pytest.raises(ValueError) as err:
        build_net(
            {"_target_": "biaslab.models.cnn.CNN", "input_shape": [1, 8, 8]},
            {"_target_": f"{__name__}.PlainPool"},
            {"_target_": "biaslab.models.heads.LinearHead"},
            num_classes=10,
            input_shape=[1, 8, 8],
        )
    assert "(it takes no layout, as it declares no `takes`; the backbone emits grid" in str(
        err.value
    )
    assert "pick one of pooling=" in str(err.value) and str(err.value).count(". ") == 0
