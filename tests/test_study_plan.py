"""The study runner's plan (`biaslab.study.plan`): a typed preset turned into its runs with
every override written in one place, named bundles of arms tagged `arm=<name>`, tuning as a
pure function of a scores table, each comparison's seed ask before the run, `--plan` and the
refusal of a misspelt baseline before any run folder exists, one protocol per published page,
and the study layer's imports and function lengths."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from biaslab.errors import ConfigError
from biaslab.study import protocol
from biaslab.study.plan import Plan, ask, describe, record
from biaslab.study.spec import ARM, Preset
from biaslab.study.tuning import picks
from tests.conftest import ROOT

GUIDE = "smoothing_vs_mixup_quick"
STUDY = ROOT / "src" / "biaslab" / "study"
MINE = ("spec", "values", "parts", "settings", "plan", "tuning", "compose", "runner")
MINE += ("publish", "listing", "replication")
PURE = ("spec", "values", "parts", "settings", "plan", "tuning")


def bundled(tmp_path, **more) -> Preset:
    node = {
        "protocol": 2,
        "arms": {"none": ["loss.label_smoothing=0.0"], "mixup": ["augment=mixup", "x.y=1"]},
        "report": {"baseline": "arm=none", "delta": 0.01},
        "hydra": {"sweeper": {"params": {"seed": "range(4)"}}},
        **more,
    }
    return Preset.from_dict("q", node)


def test_each_bundle_runs_alone_with_its_overrides_and_its_arm_tag():
    plan = Plan(Preset.from_name(GUIDE, ROOT), ("trainer.max_epochs=1",))
    sweeps = plan.final()
    assert [s.folder for s in sweeps] == [
        "final/arm-none",
        "final/arm-smoothing",
        "final/arm-mixup",
    ]
    mixup = sweeps[2].overrides
    assert "arm=choice(mixup)" in mixup and "augment=mixup" in mixup
    assert "trainer.max_epochs=1" in mixup and "loss.label_smoothing=0.1" not in mixup
    assert plan.tuning() == []


def test_a_tuned_bundle_preset_tunes_each_bundle_on_its_own_seeds(tmp_path):
    tune = {"grid": {"optimizer.lr": [0.1, 0.01, 0.001]}, "seeds": [100, 101]}
    plan = Plan(bundled(tmp_path, tune=tune))
    tuning = plan.tuning()
    assert [s.folder for s in tuning] == ["tune/arm-none", "tune/arm-mixup"]
    assert "hydra.sweeper.params.seed='100,101'" in tuning[1].overrides
    assert "optimizer.lr=0.1,0.01,0.001" in tuning[1].overrides
    assert "x.y=1" in tuning[1].overrides and "x.y=1" not in tuning[0].overrides
    wide = plan.widening({ARM: "mixup"}, "0.0001")
    assert wide.folder == "tune_widen/arm-mixup_optimizer.lr-0.0001"
    assert wide.overrides[-1] == "optimizer.lr=0.0001" and "augment=mixup" in wide.overrides
    final = plan.final({"arm-mixup": {"arm": {ARM: "mixup"}, "chosen": {"optimizer.lr": "0.01"}}})
    assert final[0].folder == "final/arm-mixup" and "optimizer.lr=0.01" in final[0].overrides
    with pytest.raises(ConfigError, match="share seed 2 with the compared seeds"):
        bundled(tmp_path, tune={**tune, "seeds": [2, 7]})


def test_a_comparison_below_its_pilots_ask_is_marked_before_the_run():
    preset = Preset.from_name(GUIDE, ROOT)
    primary, versus_mixup = Plan(preset).asks()
    assert primary.needed is None and not primary.underpowered
    c = versus_mixup.comparison
    need = protocol.seeds_needed(c.pilot.sd, c.pilot.seeds, c.delta, preset.family_size)
    assert versus_mixup.needed == need > len(preset.seeds) and versus_mixup.underpowered
    enough = ask(Preset.from_dict(GUIDE, {**_raw(), "hydra": _seeds(need)}), c)
    assert enough.needed == need and not enough.underpowered
    kept = record(Plan(preset))
    assert kept["protocol"] == 2 and kept["family_size"] == preset.family_size
    assert [x["baseline"] for x in kept["comparisons"]] == ["arm=none", "arm=mixup"]
    assert [x["underpowered"] for x in kept["comparisons"]] == [False, True]
    lines = "\n".join(describe(Plan(preset)))
    assert f"asks for {need}" in lines and "UNDERPOWERED" in lines and "arm=mixup" in lines


def _raw() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "conf" / "experiment" / f"{GUIDE}.yaml").read_text())


def _seeds(n: int) -> dict:
    return {"sweeper": {"params": {"seed": f"range({n})"}}}


def test_tuning_is_a_pure_function_of_its_scores_table():
    from biaslab.study.settings import TuneSpec

    tune = TuneSpec.from_dict({"grid": {"optimizer.lr": [0.1, 0.01, 0.001]}, "seeds": [0, 1]})
    rows = [
        {"arm": arm, "optimizer.lr": lr, "val/acc_best": acc + 0.001 * s, "status": "ok"}
        for arm, accs in {"a": (0.9, 0.8, 0.7), "b": (0.7, 0.8, 0.9)}.items()
        for lr, acc in zip((0.1, 0.01, 0.001), accs)
        for s in (0, 1)
    ]
    rows.append({"arm": "a", "optimizer.lr": 0.01, "val/acc_best": 1.0, "status": "failed"})
    chosen, widen = picks(pd.DataFrame(rows), tune, ("arm",))
    assert chosen["arm-a"]["chosen"] == {"optimizer.lr": "0.1"}
    assert chosen["arm-b"]["chosen"] == {"optimizer.lr": "0.001"}
    assert widen == [({"arm": "a"}, "1"), ({"arm": "b"}, "0.0001")]


def command(*args: str, root) -> subprocess.CompletedProcess:
    env = {**os.environ, "BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    cmd = [sys.executable, str(ROOT / "scripts" / "run_preset.py"), *args]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_plan_prints_the_runs_the_comparisons_and_the_ask_and_trains_nothing(tmp_path):
    done = command(GUIDE, "--plan", root=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "3 arm(s) x 5 seeds (0-4) = 15 runs" in out and "arm=mixup: augment=mixup" in out
    assert "against arm=none" in out and "against arm=mixup" in out and "UNDERPOWERED" in out
    assert not (tmp_path / "logs").exists()


def test_a_misspelt_baseline_is_refused_before_any_run_folder_exists(tmp_path):
    done = command(GUIDE, "report.baseline='arm=nnone'", root=tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr
    assert "report.baseline=arm=nnone" in errors[0] and "none, smoothing, mixup" in errors[0]
    assert not (tmp_path / "logs").exists()


def test_a_page_holds_one_protocols_runs(tmp_path):
    from biaslab.study.publish import publish_files

    src, page = tmp_path / "final", tmp_path / "page"
    src.mkdir()
    page.mkdir()
    (src / "preset.json").write_text(json.dumps({"protocol": 2}))
    (page / "preset.json").write_text(json.dumps({"command": "v1 page"}))  # no key: protocol 1
    with pytest.raises(
        ConfigError, match="published under protocol 1 and these runs are protocol 2"
    ):
        publish_files(src, page)
    assert json.loads((page / "preset.json").read_text()) == {"command": "v1 page"}


def _imports(module: str) -> set[str]:
    tree = ast.parse((STUDY / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize("module", PURE)
def test_the_declaration_plan_and_tuning_start_no_process_and_import_no_runner(module):
    upward = {"biaslab.presets", "biaslab.tuning", "subprocess"}
    upward |= {f"biaslab.study.{m}" for m in ("runner", "publish", "replication", "compose")}
    assert not (_imports(module) & upward), module
    assert not any(i.startswith("biaslab.analysis") for i in _imports(module)), module


def test_only_the_runner_starts_processes_and_only_the_plan_writes_overrides():
    for module in MINE:
        text = (STUDY / f"{module}.py").read_text()
        if module != "runner":
            assert "subprocess" not in _imports(module), module
        if module != "plan":
            for override in ("=choice(", "hydra.sweep.dir=", "seed='", "experiment="):
                assert override not in text, (module, override)
    for path in sorted((ROOT / "src" / "biaslab" / "analysis").glob("*.py")):  # no upward import
        found = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(found) if isinstance(n, ast.ImportFrom)}
        runner = {"biaslab.presets", "biaslab.tuning", "biaslab.study.runner"}
        assert not names & {*runner, "biaslab.study.replication", "biaslab.study.publish"}, path


@pytest.mark.parametrize("module", MINE)
def test_no_function_of_the_study_code_is_over_50_lines(module):
    tree = ast.parse((STUDY / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno - node.lineno + 1 <= 50, (module, node.name)


def test_protocol_2_gives_tuning_its_own_seeds_where_none_are_declared(tmp_path):
    preset = bundled(tmp_path, tune={"grid": {"optimizer.lr": [0.1, 0.01]}})
    assert preset.tuning_seeds == (4,) and not set(preset.tuning_seeds) & set(preset.seeds)
    assert "hydra.sweeper.params.seed='4'" in Plan(preset).tuning()[0].overrides
    assert record(Plan(preset))["tuning_seeds"] == [4]
    v1 = Preset.from_name("optimizers_quick", ROOT)  # protocol 1: tuned on a compared seed
    assert v1.tuning_seeds == (0,) and v1.tuning_seeds_reused
