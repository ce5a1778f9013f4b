"""The typed declaration (`biaslab.study.spec`): every preset in conf/experiment parses, with
its sweep read as Hydra reads it; bad declarations are refused in one sentence naming the key
and the fix; the bundle form of arms parses."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest
import yaml

from biaslab.errors import ConfigError
from biaslab.study.spec import ARM, COUNT_METRICS, Preset, same_value

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "conf" / "experiment").glob("*.yaml"))


def one_sentence(message: str) -> bool:
    """One line, one sentence: ends with a full stop, none inside it ('0.01' is no stop)."""
    return "\n" not in message and message.endswith(".") and not re.search(r"\.\s+[A-Z]", message)


def hydra_values(key: str, value) -> list[str]:
    """What Hydra's own override parser sweeps for `key=value`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    text = "null" if value is None else str(value)
    (override,) = OverridesParser.create().parse_overrides([f"{key}={text}"])
    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    return list(override.sweep_string_iterator())


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_existing_preset_parses_with_its_sweep_as_hydra_reads_it(path):
    preset = Preset.from_yaml(path)
    raw = yaml.safe_load(path.read_text())
    params = ((raw.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    assert preset.name == path.stem and preset.protocol == raw.get("protocol", 1)
    bundles = {ARM} if raw.get("arms") else set()
    assert set(preset.swept) == set(params)
    assert set(preset.factors) == set(params) - {"seed"} | bundles
    for key, value in params.items():
        ours, hydras = preset.swept[key], hydra_values(key, value)
        assert len(ours) == len(hydras) and all(map(same_value, ours, hydras))
    if "seed" in params:
        assert [str(s) for s in preset.seeds] == hydra_values("seed", params["seed"])
    assert (preset.claim is None) == (raw.get("claim") is None)
    assert len(preset.comparisons) == bool((raw.get("report") or {}).get("baseline")) + len(
        (raw.get("claim") or {}).get("comparisons") or []
    )


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_the_family_counts_each_arm_against_its_baseline_once(path):
    """Family size by arithmetic: per comparison, the baseline key's other values times the
    other factors' values (one value for each key fixed by `at`); no preset repeats a pair."""
    preset = Preset.from_yaml(path)
    expected = 0
    for c in preset.comparisons:
        others = [len(v) for k, v in preset.factors.items() if k != c.key and k not in c.at]
        expected += (len(preset.factors[c.key]) - 1) * math.prod(others)
    assert preset.family_size == expected == len(set(preset.pairs))


def test_todays_fields_map_to_the_typed_declaration():
    optimizers = Preset.from_name("optimizers", ROOT)
    assert optimizers.report.primary == "train_eval/loss" and optimizers.report.delta == 0.02
    assert [(c.metric, c.key, c.value, c.delta) for c in optimizers.comparisons] == [
        ("train_eval/loss", "optimizer", "sgd", 0.02),
        ("test/acc", "optimizer", "sgd", 0.01),
    ]
    assert optimizers.tune.tie == "noise" and optimizers.tune.goal == "min"
    assert optimizers.seeds == tuple(range(20)) and optimizers.claim.seeds_asked == 20
    assert optimizers.tuning_seeds_reused  # protocol 1: tuned on seeds 0-1, compared on 0-19
    warmup = Preset.from_name("warmup", ROOT)
    assert warmup.counts == COUNT_METRICS  # `diverged` read as a count
    assert not warmup.tuning_seeds_reused and warmup.family_size == 6
    attn = Preset.from_name("attn_vs_rnn", ROOT)
    assert attn.comparisons[1].at == {"extras.threads": "all"} and attn.exclusive


def write(tmp_path: Path, node: dict, name: str = "study") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(node, allow_unicode=True, sort_keys=False))
    return path


def refused(path: Path, *words: str) -> str:
    """The one sentence a declaration is refused with; it names the file and `words`."""
    with pytest.raises(ConfigError) as caught:
        Preset.from_yaml(path)
    message = str(caught.value)
    assert one_sentence(message), message
    assert message.startswith(str(path)) and all(w in message for w in words), message
    return message


def optimizers_node() -> dict:
    return yaml.safe_load((ROOT / "conf" / "experiment" / "optimizers.yaml").read_text())


def bundles_node() -> dict:
    """Three arms as named bundles of overrides, crossed with seeds; tuned on other seeds."""
    return {
        "protocol": 2,
        "claim": {
            "id": "X.1",
            "text": "label smoothing and mixup regularise",
            "comparisons": [
                {"baseline": "arm=none", "metric": "test/loss", "delta": 0.02, "expected": "lower"}
            ],
        },
        "arms": {
            "none": ["augment=none"],
            "smoothing": ["augment=none", "loss.label_smoothing=0.1"],
            "mixup": ["augment=mixup"],
        },
        "tune": {"grid": {"optimizer.lr": [0.01, 0.001]}, "seeds": [100, 101]},
        "report": {
            "baseline": "none",
            "delta": 0.01,
            "metrics": ["diverged"],
            "counts": ["diverged"],
        },
        "hydra": {"sweeper": {"params": {"seed": "range(8)"}}},
    }


def test_the_three_arm_bundle_form_parses(tmp_path):
    preset = Preset.from_yaml(write(tmp_path, bundles_node()))
    assert preset.protocol == 2 and preset.factors == {ARM: ("none", "smoothing", "mixup")}
    assert preset.bundles["smoothing"] == ("augment=none", "loss.label_smoothing=0.1")
    assert [arm[ARM] for arm in preset.arms] == ["none", "smoothing", "mixup"]
    assert [(c.key, c.value) for c in preset.comparisons] == [(ARM, "none"), (ARM, "none")]
    assert preset.family_size == 4 and preset.counts == {"diverged"}
    assert preset.seeds == tuple(range(8)) and not preset.tuning_seeds_reused


def test_a_misspelt_baseline_is_refused(tmp_path):
    node = optimizers_node()
    node["report"]["baseline"] = "optimizer=sdg"
    refused(write(tmp_path, node), "report.baseline=optimizer=sdg", "sgd", "not sdg")
    node = optimizers_node()
    node["claim"]["comparisons"][0]["baseline"] = "optimiser=sgd"
    refused(write(tmp_path, node), "claim.comparisons[0].baseline", "optimiser")
    node = optimizers_node()
    node["report"]["baseline"] = "sgd"  # a bare name: only bundles are named
    refused(write(tmp_path, node), "report.baseline=sgd", "names no arm", "key=value")


def test_a_misspelt_arm_is_refused(tmp_path):
    node = bundles_node()
    node["report"]["baseline"] = "nnone"
    refused(write(tmp_path, node), "report.baseline=nnone", "none, smoothing, mixup")
    node = bundles_node()
    node["claim"]["comparisons"][0]["baseline"] = "arm=mixupp"
    refused(write(tmp_path, node), "claim.comparisons[0].baseline=arm=mixupp", "not mixupp")
    node = bundles_node()
    node["arms"]["../mixup"] = node["arms"].pop("mixup")  # a name is a name, never a path
    refused(write(tmp_path, node), "arms.../mixup", "rename")
    node = bundles_node()
    node["hydra"]["sweeper"]["params"]["augment"] = "none,mixup"  # set twice
    refused(write(tmp_path, node), "arms.none", "augment", "not both")


def test_overlapping_tuning_and_compared_seeds_are_refused_under_protocol_2(tmp_path):
    node = bundles_node()
    node["tune"]["seeds"] = [0, 1]
    refused(write(tmp_path, node), "tune.seeds [0, 1]", "seed 0", "tune.seeds: [1000, 1001]")
    node = optimizers_node()
    node["protocol"] = 2
    refused(write(tmp_path, node), "tune.seeds", "protocol 2")


def test_comparisons_given_as_a_string_are_refused(tmp_path):
    node = optimizers_node()
    node["claim"]["comparisons"] = "optimizer=sgd"
    refused(write(tmp_path, node), "claim.comparisons", "str", "list of mappings")
    node["claim"]["comparisons"] = ["optimizer=sgd"]
    refused(write(tmp_path, node), "claim.comparisons[0]", "baseline: ...")


def test_a_count_undeclared_or_a_delta_missing_is_refused_under_protocol_2(tmp_path):
    node = bundles_node()
    del node["report"]["counts"]
    refused(write(tmp_path, node), "diverged", "report.counts: [diverged]")
    node = bundles_node()
    del node["claim"]["comparisons"][0]["delta"]
    refused(write(tmp_path, node), "claim.comparisons[0].delta", "delta: 0.01")


@pytest.mark.parametrize(
    ("where", "key", "value", "words"),
    [
        ("report", "basline", "optimizer=sgd", ("report.basline", "baseline")),
        ("report", "delta", -0.01, ("report.delta=-0.01", "number > 0")),
        ("report", "metrics", "test/acc", ("report.metrics='test/acc'", "list")),
        ("tune", "tie", "loud", ("tune.tie='loud'", "noise")),
        ("tune", "over", ["optimiser"], ("tune.over", "optimiser")),
        ("claim", "text", "", ("claim.text", "declare it")),
        (
            "hydra",
            "sweeper",
            {"params": {"optimizer": "glob(*)", "seed": "range(3)"}},
            ("optimizer=glob(*)", "a,b,c"),
        ),
    ],
)
def test_bad_declarations_are_refused_in_one_sentence(tmp_path, where, key, value, words):
    node = copy.deepcopy(optimizers_node())
    node[where][key] = value
    refused(write(tmp_path, node), *words)


def test_from_name_takes_names_never_paths(tmp_path):
    for name in ("../optimizers", "nosuch", "/etc/passwd"):
        with pytest.raises(ConfigError) as caught:
            Preset.from_name(name, ROOT)
        assert one_sentence(str(caught.value)) and "optimizers" in str(caught.value)
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    write(tmp_path / "conf" / "experiment", bundles_node(), "mine")
    assert Preset.from_name("mine", tmp_path).factors[ARM] == ("none", "smoothing", "mixup")
