"""Every experiment preset composes and runs one fast step per arm (seed 0). Fashion-MNIST
presets read small files written here in the real idx format (tests never need the real data)."""

from __future__ import annotations

import itertools
import json
import os

import pytest
import torch

from tests.conftest import FAST, ROOT, compose, group_options

RECIPES = {"cifar10_speed", "fashion_mnist_gpu", "data_scaling_fmnist"}  # GPU / real CIFAR
PRESETS = [p for p in group_options("experiment") if p not in RECIPES]
STEP = [
    "trainer.max_epochs=1",
    "trainer.max_steps=1",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "callbacks=none",
    "trainer.val_check_interval=null",
    "trainer.check_val_every_n_epoch=1",
]
GENERATED = ["data.num_train=64", "data.num_val=64", "data.num_test=64"]


def arms(preset: str, tmp_path) -> list[list[str]]:
    cfg = compose([f"experiment={preset}"], tmp_path, keep_hydra=True)
    swept = cfg.hydra.sweeper.get("params") or {}
    params = {k: str(v).split(",") for k, v in swept.items() if k != "seed"}
    return [
        [f"{k}={v}" for k, v in zip(params, values)]
        for values in itertools.product(*params.values())
    ]


def fast_overrides(overrides: list[str], tmp_path) -> list[str]:
    """STEP, plus small generated data or small Fashion-MNIST files, as the arm's data needs."""
    from tests.data_files import write_mnist

    cfg = compose(overrides, tmp_path)
    data = cfg.data
    extra = list(STEP)
    if "critical_points" in (cfg.get("probes") or {}):  # a tiny exact Hessian
        extra += [
            "probes.critical_points.steps=2",
            "probes.critical_points.n_examples=16",
            "model.backbone.hidden=[1]",
        ]
    if "num_train" in data:  # a generated task: a few examples
        extra += GENERATED
    if data.get("name") == "fashion_mnist":
        root = write_mnist(tmp_path / "fmnist", folder="FashionMNIST", n_train=400, n_test=60)
        extra += [f"data.data_dir={root}", "data.download=false"]
        if data.get("train_per_class") is not None:
            extra.append("data.train_per_class=20")
    return extra


def _builds(preset: str, arms_to_build: list[list[str]], tmp_path) -> None:
    from hydra.utils import instantiate

    for arm in arms_to_build:
        cfg = compose([f"experiment={preset}", "hydra.mode=RUN", *arm, "seed=0"], tmp_path)
        module = instantiate(cfg.module, _recursive_=False)
        assert sum(p.numel() for p in module.parameters()) > 0, arm


@pytest.mark.parametrize("preset", PRESETS)
def test_every_arm_of_a_preset_composes_and_builds(preset, tmp_path):
    """Each arm's config composes and its module builds (the net runs on a dry batch): every
    arm of a quick preset, the first of a full-size one (the rest: the slow test below)."""
    every = arms(preset, tmp_path)
    _builds(preset, every if preset.endswith("_quick") else every[:1], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("preset", [p for p in PRESETS if not p.endswith("_quick")])
def test_every_arm_of_a_full_size_preset_composes_and_builds(preset, tmp_path):
    _builds(preset, arms(preset, tmp_path)[1:], tmp_path)


# the full-size presets train a step in `make test-slow`; every arm of them composes and builds
# in `make test` (above), and their parts train in tests/test_contracts.py
QUICK_FIRST = [
    p if p.endswith("_quick") else pytest.param(p, marks=pytest.mark.slow) for p in PRESETS
]


@pytest.mark.parametrize("preset", QUICK_FIRST)
def test_a_preset_runs_one_step_of_its_first_arm(preset, train_fast, tmp_path):
    every = arms(preset, tmp_path)  # every arm: test_a_preset_runs_one_step_of_every_arm (slow)
    for i, arm in enumerate(every[:1]):
        overrides = [f"experiment={preset}", "hydra.mode=RUN", *arm, "seed=0"]
        metrics = train_fast(
            *overrides, *fast_overrides(overrides, tmp_path), path=tmp_path / str(i)
        )
        assert torch.isfinite(torch.tensor(metrics["train/loss"])), arm


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_runs_one_step_of_every_arm(preset, train_fast, tmp_path):
    for i, arm in enumerate(arms(preset, tmp_path)):
        overrides = [f"experiment={preset}", "hydra.mode=RUN", *arm, "seed=0"]
        metrics = train_fast(
            *overrides, *fast_overrides(overrides, tmp_path), path=tmp_path / str(i)
        )
        assert torch.isfinite(torch.tensor(metrics["train/loss"])), arm


@pytest.mark.slow
def test_a_tuned_preset_picks_each_arms_better_lr_then_runs_its_seeds(tmp_path):
    """lr 1e-7 barely learns, lr 0.05 can: tuning must pick 0.05 for each arm, on validation, and the
    seeds then run at it; the report says what was chosen."""
    import json

    from biaslab.presets import run_preset

    fast = [
        "logger=csv",  # the preset's W&B grouping has its own test
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=6",
        "trainer.limit_test_batches=1",
        "hydra.sweeper.params.optimizer='sgd,adam'",
        "hydra.sweeper.params.seed=3",  # the final runs' seed; tuning keeps its own (tune.seeds)
        "tune.grid={optimizer.lr:[1e-07,0.05]}",
    ]
    final = run_preset("optimizers_quick", fast, out=tmp_path / "optimizers")
    import yaml

    tuned = [
        yaml.safe_load(p.read_text())["seed"]
        for p in (tmp_path / "optimizers").glob("tune/*/config_resolved.yaml")
    ]
    assert tuned and set(tuned) == {0}
    chosen = json.loads((final / "tuning.json").read_text())
    assert {k: v["chosen"] for k, v in chosen.items()} == {
        "optimizer-adam": {"optimizer.lr": "0.05"},
        "optimizer-sgd": {"optimizer.lr": "0.05"},
    }
    for entry in chosen.values():
        assert entry["scores"]["0.05"] > entry["scores"]["1e-07"]

    for job in final.glob("*/0/.hydra/overrides.yaml"):
        assert "optimizer.lr=0.05" in yaml.safe_load(job.read_text())
        assert "seed=3" in yaml.safe_load(job.read_text())
    report = (final / "report" / "report.md").read_text()
    assert (
        "- optimizer=adam: **optimizer.lr=0.05**" in report and "| optimizer=adam | 1 |" in report
    )


@pytest.mark.slow
def test_tune_over_one_key_picks_one_value_per_family_at_the_held_size(tmp_path):
    """`tune.over: [model]` with `tune.at`: the tuning sweep runs only at the held data size, one
    choice for the model, and every size then runs at that choice; a missing `at` is refused."""
    import json

    import yaml

    from biaslab.presets import run_preset

    fast = [
        "logger=csv",  # the preset's W&B grouping has its own test
        "trainer.max_steps=6",
        "trainer.limit_train_batches=3",
        "trainer.limit_test_batches=1",
        "hydra.sweeper.params={model:cnn,data.train_fraction:'0.3,1.0',seed:0}",
        "+tune.grid={optimizer.lr:[1e-07,0.05]}",
        "+tune.over=[model]",
        "+tune.at={data.train_fraction:1.0}",
    ]
    final = run_preset("data_scaling_quick", fast, out=tmp_path / "ds")
    tuned = [
        yaml.safe_load(p.read_text())
        for p in (tmp_path / "ds" / "tune").glob("*/.hydra/overrides.yaml")
    ]
    assert len(tuned) == 2 and all("data.train_fraction=1.0" in o for o in tuned)
    chosen = json.loads((final / "tuning.json").read_text())
    assert {k: v["chosen"] for k, v in chosen.items()} == {"model-cnn": {"optimizer.lr": "0.05"}}
    runs = [yaml.safe_load(p.read_text()) for p in final.glob("*/*/.hydra/overrides.yaml")]
    assert len(runs) == 2 and all("optimizer.lr=0.05" in o for o in runs)
    assert {o for r in runs for o in r if o.startswith("data.train_fraction")} == {
        "data.train_fraction=0.3",
        "data.train_fraction=1.0",
    }
    with pytest.raises(ValueError, match=r"tune\.at gives \[\] where it must give one value"):
        run_preset("data_scaling_quick", fast[:-1], out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()  # refused by the typed declaration, before any run


def test_a_preset_stopped_by_sigterm_still_counts_its_wall_time(tmp_path, monkeypatch):
    """SIGTERM (a scheduler, `timeout`) mid-preset: exit 143 after wall.json adds the time spent,
    and the previous SIGTERM handler is back."""
    import json
    import os
    import signal
    import time

    import biaslab.study.runner as presets

    def stopped(*args) -> None:
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # never reached: the handler raises first

    monkeypatch.setattr(presets, "run_stages", stopped)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stop:
        presets.run_preset("optimizers_quick", [], out=tmp_path / "p")
    assert stop.value.code == 143
    assert json.loads((tmp_path / "p" / "wall.json").read_text())["wall_s"] >= 0.2
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow
def test_a_changed_declaration_refuses_to_mix_with_the_old_runs(tmp_path, monkeypatch):
    """The runs record the `claim:` they were made under; the same preset with another claim
    is refused before anything runs, and --publish needs a clean tree."""
    from biaslab.errors import ConfigError
    from biaslab.presets import run_preset

    fast = [
        "logger=csv",  # the preset's W&B grouping has its own test
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_test_batches=1",
        "hydra.sweeper.params.optimizer=sgd",
        "hydra.sweeper.params.seed=0",
        "tune=null",
        "report.baseline=null",
    ]
    out = tmp_path / "preset"
    final = run_preset("optimizers_quick", [*fast, "claim={id:X,text:first}"], out=out)
    assert json.loads((final / "preset.json").read_text())["declaration"]
    with pytest.raises(ConfigError, match=r"made under another declaration .* pass --fresh"):
        run_preset("optimizers_quick", [*fast, "claim={id:X,text:second}"], out=out)
    import biaslab.run.provenance as provenance

    monkeypatch.setattr(provenance, "is_dirty", lambda root: True)
    with pytest.raises(ConfigError, match=r"--publish runs only from a clean tree"):
        run_preset("optimizers_quick", [*fast, "claim={id:X,text:first}"], out=out, publish=True)


def test_a_preset_whose_primary_is_read_on_the_training_set_tunes_on_the_training_set():
    """The house rule loss and optimizers were redeclared under (docs/replication.md): an LR
    tuned on validation accuracy, flat over a factor 3, moved between re-runs and moved a
    training-set primary's words with it. A preset whose primary is a train_eval/* metric tunes
    on that quantity during training (train/*), in the direction the metric registry gives."""
    import yaml

    from biaslab.analysis.metrics import metric

    checked = []
    for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
        preset = yaml.safe_load(path.read_text())
        primary = (preset.get("report") or {}).get("primary") or "test/acc"
        if not preset.get("tune") or not primary.startswith("train_eval/"):
            continue
        tuned = preset["tune"].get("metric", "val/acc_best")
        assert tuned == primary.replace("train_eval/", "train/"), path.stem
        goal = preset["tune"].get("goal", "max")
        assert goal == {"higher": "max", "lower": "min"}[metric(primary).better], path.stem
        checked.append(path.stem)
    assert {"depth", "loss", "optimizers"} <= set(checked)


def test_the_tie_rule_takes_the_middle_of_the_values_noise_cannot_order():
    from biaslab.tuning import pick

    scores = {"0.001": 0.80, "0.003": 0.851, "0.01": 0.852, "0.03": 0.850, "0.1": 0.70}
    assert pick(scores, tie=0.002) == ("0.01", ["0.003", "0.01", "0.03"])
    assert pick(scores, tie=0.0) == ("0.01", ["0.01"])
    assert pick({"0.1": 0.5, "0.3": 0.5}, tie=0.0)[0] == "0.1"  # an even tie: the lower middle


def test_a_noise_sized_tie_is_the_tuning_seeds_spread_and_ignores_a_diverging_value():
    """tune.tie=noise: 1.645 * (the median over the grid of each value's SD across seeds) *
    sqrt(2 / seeds), by hand; a value with a wild spread (one seed diverged) does not widen it."""
    import numpy as np

    from biaslab.tuning import noise_tie, pick

    seed_scores = {
        "0.01": [0.80, 0.82],
        "0.03": [0.84, 0.85],
        "0.1": [0.83, 0.86],
        "0.3": [0.1, 0.8],
    }
    sds = sorted(float(np.std(v, ddof=1)) for v in seed_scores.values())
    expected = 1.645 * (sds[1] + sds[2]) / 2 * np.sqrt(2 / 2)
    assert noise_tie(seed_scores) == pytest.approx(expected)
    means = {k: float(np.mean(v)) for k, v in seed_scores.items()}
    assert pick(means, noise_tie(seed_scores))[1] == ["0.03", "0.1"]  # 0.81 is 0.035 below
    with pytest.raises(ValueError, match=r"no grid value with a finite score on 2 or more"):
        noise_tie({"0.01": [0.8, float("nan")], "0.03": [float("inf"), 0.84]})


def test_a_noise_sized_tie_with_one_tuning_seed_is_refused_before_anything_trains(tmp_path):
    from biaslab.errors import ConfigError
    from biaslab.presets import run_preset

    args = ["logger=csv", "+tune.tie=noise", "tune.seeds=[0]"]
    with pytest.raises(ConfigError, match=r"tune\.tie=noise needs 2 or more tune\.seeds"):
        run_preset("optimizers_quick", args, out=tmp_path / "p")
    assert not list((tmp_path / "p").glob("tune/*/config_resolved.yaml"))


def test_a_comparison_fixed_at_an_unswept_key_is_refused_before_anything_trains(tmp_path):
    from biaslab.errors import ConfigError
    from biaslab.presets import run_preset

    comparison = "{baseline:'optimizer=adam',metric:'test/acc',at:{nope:1}}"
    claim = f"claim={{id:X,text:t,comparisons:[{comparison}]}}"
    with pytest.raises(
        ConfigError, match=r"claim\.comparisons\[0\]\.at\.nope is not another varied key"
    ):
        run_preset("optimizers_quick", ["logger=csv", claim], out=tmp_path / "p")
    assert not list((tmp_path / "p").glob("**/config_resolved.yaml"))


def test_a_pick_at_the_grids_edge_asks_for_the_next_value_in_its_pattern():
    from biaslab.tuning import beyond_edge

    grid = ["0.001", "0.003", "0.01", "0.03"]
    assert beyond_edge(grid, "0.03") == "0.1"
    assert beyond_edge(grid, "0.001") == "0.0003"
    assert beyond_edge(grid, "0.01") is None
    assert beyond_edge(["1e-07", "0.05"], "0.05") is None  # two values: no pattern to continue
    assert beyond_edge(["adam", "sgd", "x"], "adam") is None


def test_a_tie_that_spans_the_grid_widens_it_past_both_edges():
    from biaslab.tuning import to_widen

    grid = ["0.001", "0.003", "0.01"]
    assert to_widen(grid, ["0.001", "0.003", "0.01"]) == ["0.0003", "0.03"]
    assert to_widen(grid, ["0.003", "0.01"]) == ["0.03"]
    assert to_widen(grid, ["0.003"]) == []


@pytest.mark.slow
def test_a_pick_at_the_edge_widens_the_grid_and_tunes_the_next_value(tmp_path):
    """lr 0.05 beats 1e-7 and 1e-6, so the pick sits at the grid's top: tuning runs the next
    value of the pattern (0.5) for that arm before choosing, and records its score."""
    from biaslab.presets import run_preset

    fast = [
        "logger=csv",  # the preset's W&B grouping has its own test
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=6",
        "trainer.limit_test_batches=1",
        "hydra.sweeper.params.optimizer=sgd",
        "hydra.sweeper.params.seed=0",
        "tune.grid={optimizer.lr:[1e-07,1e-06,0.05]}",
        "+tune.widen=1",
    ]
    final = run_preset("optimizers_quick", fast, out=tmp_path / "opt")
    entry = json.loads((final / "tuning.json").read_text())["optimizer-sgd"]
    assert list(entry["scores"]) == ["1e-07", "1e-06", "0.05", "0.5"]
    assert (tmp_path / "opt" / "tune_widen" / "optimizer-sgd_optimizer.lr-0.5").is_dir()
    assert entry["chosen"]["optimizer.lr"] in ("0.05", "0.5")


@pytest.mark.extra("sweeps")
@pytest.mark.slow
def test_a_preset_that_measures_time_runs_its_jobs_one_at_a_time(tmp_path, capsys):
    """`exclusive: true`: a parallel launcher asked for on the command line is dropped, said in
    one line, and the runs record their thread count (extras.threads)."""
    import yaml

    from biaslab.presets import run_preset

    fast = [
        "logger=csv",  # the preset's W&B grouping has its own test
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "data.num_train=64",
        "data.num_val=32",
        "data.num_test=32",
        "hydra.sweeper.params={model:rnn_18k,data.length:8,extras.threads:'1,all',seed:0}",
        "~tune",
    ]
    final = run_preset("attn_vs_rnn", fast, out=tmp_path / "avr")
    assert "its jobs run one at a time" in capsys.readouterr().out
    multirun = yaml.safe_load((final / "multirun.yaml").read_text())
    assert multirun["hydra"]["launcher"]["_target_"].endswith("BasicLauncher")
    threads = sorted(
        str(yaml.safe_load(p.read_text())["extras"]["threads"])
        for p in final.glob("*/config_resolved.yaml")
    )
    assert threads == ["1", "all"]


@pytest.mark.slow
def test_ctrl_c_ends_a_preset_with_one_line_and_the_same_command_resumes(tmp_path):
    """SIGINT to the preset's process group (a user's Ctrl-C): exit 130, one line saying how to
    go on, no traceback."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    cmd = [sys.executable, str(ROOT / "scripts" / "run_preset.py"), "loss_quick"]
    cmd += ["trainer.max_epochs=50", "logger=csv"]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "BIASLAB_ROOT": str(tmp_path)},
    )
    time.sleep(15)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in out + err
    assert err.rstrip().splitlines()[-1] == (
        "Stopped loss_quick: finished jobs are kept; the same command resumes it."
    )


@pytest.mark.slow
def test_a_preset_logs_to_the_users_wandb_grouped_by_preset_and_declaration(tmp_path, monkeypatch):
    """No logger forced: the default W&B logger (offline) gets each run, grouped as
    <preset>-<declaration hash>, named by the run's own values."""
    from biaslab.presets import declaration_hash, run_preset
    from biaslab.utils.wandb_files import find_run_files, read_records

    monkeypatch.setenv("WANDB_MODE", "offline")
    fast = [
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "hydra.sweeper.params={model.backbone.downsample:'maxpool,none',seed:0}",
        "claim={id:X,text:a claim}",
    ]
    final = run_preset("downsampling_quick", fast, out=tmp_path / "ds")
    runs = [
        next(r.run for r in read_records(f) if r.WhichOneof("record_type") == "run")
        for f in find_run_files(final)
    ]
    group = f"downsampling_quick-{declaration_hash({'id': 'X', 'text': 'a claim'})}"
    runs = [r for r in runs if r.job_type != "report"]
    assert len(runs) == 2 and {r.run_group for r in runs} == {group}
    assert sorted(r.display_name for r in runs) == [
        "model.backbone.downsample=maxpool,seed=0",
        "model.backbone.downsample=none,seed=0",
    ]
    from biaslab.utils.wandb_files import read_artifacts

    assert not find_run_files(final / "report")  # nothing written beside the report
    (report_run,) = [f for f in find_run_files(tmp_path / "ds") if f not in find_run_files(final)]
    assert ("downsampling_quick-report", "report") in read_artifacts(report_run)


@pytest.mark.slow  # copies the project and runs a preset there, 13 s
def test_run_preset_help_exits_0_and_a_second_clone_reads_its_own_conf(tmp_path):
    """`--help` prints usage; a clone that shares this environment lists and runs its own presets
    from its own conf/ (its scripts put its own src/ first), not those of the clone the package
    was installed from."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_preset.py"), "--help"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout.startswith("Run (or resume) one lecture preset")
    clone = tmp_path / "clone"
    for part in ("scripts", "src", "conf"):
        shutil.copytree(ROOT / part, clone / part, ignore=shutil.ignore_patterns("__pycache__"))
    (clone / "conf" / "experiment" / "only_in_the_clone.yaml").write_text(
        "# @package _global_\ntags: [made_by_the_clone]\nreport:\n"
        "  baseline: model.backbone.downsample=maxpool\nhydra:\n  mode: MULTIRUN\n"
        "  sweeper:\n    params:\n      model.backbone.downsample: maxpool,avgpool\n      seed: 0\n"
    )
    script = str(clone / "scripts" / "run_preset.py")
    listed = subprocess.run([sys.executable, script, "--list"], capture_output=True, text=True)
    assert "only_in_the_clone" in listed.stdout
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path / "out")}
    ran = subprocess.run(
        [sys.executable, script, "only_in_the_clone", *FAST],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    configs = list((tmp_path / "out").rglob("config_resolved.yaml"))
    assert len(configs) == 2 and all("made_by_the_clone" in c.read_text() for c in configs)


def test_the_list_names_each_pages_device_and_totals_the_lecture_set(tmp_path):
    """Wall times measured on different hosts: each line names its own, the total adds them."""
    import subprocess
    import sys

    from biaslab.presets import listing

    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    for name, wall, device in (("a", 1800, "CPU: AMD EPYC (2 cores)"), ("b", 5400, "CPU: Xeon")):
        (tmp_path / "conf" / "experiment" / f"{name}.yaml").write_text(f"claim:\n  id: X.{name}\n")
        page = tmp_path / "docs" / "results" / name
        page.mkdir(parents=True)
        (page / "preset.json").write_text(json.dumps({"wall_s": wall}))
        (page / "runs.csv").write_text(f"run,device\n0,{device}\n1,{device}\n2,\n")
    (tmp_path / "conf" / "experiment" / "c.yaml").write_text("tags: [c]\n")
    lines = listing(tmp_path, ("a", "b", "c"))
    assert lines[0].split()[:4] == ["a", "X.a", "30.0", "min"]
    assert lines[0].split(" min", 1)[1].strip() == "CPU: AMD EPYC (2 cores)"  # no blank device
    assert lines[1].endswith("CPU: Xeon") and lines[2].split()[1:] == ["-", "not", "run"]
    assert lines[3] == (
        "lecture set (3 presets, each on the host its line names): 2.0 h, "
        "the longest b 90.0 min; not run: c"
    )
    shown = subprocess.run(
        ["bash", str(ROOT / "scripts" / "reproduce_lecture.sh"), "--list"],
        capture_output=True,
        text=True,
        env={**os.environ, "PY": sys.executable},
    )
    assert shown.returncode == 0 and shown.stdout.splitlines()[-1].startswith("lecture set (16 ")


def _seed_count(swept: str) -> int:
    """How many seeds a sweep value runs: `range(a[,b])` or a comma list."""
    import re

    found = re.fullmatch(r"range\((\d+)(?:,\s*(\d+))?\)", swept.strip())
    if found:
        start, stop = (0, found[1]) if found[2] is None else found.groups()
        return int(stop) - int(start)
    return len(swept.split(","))


DECLARED = [
    p for p in PRESETS if "\nclaim:" in (ROOT / "conf" / "experiment" / f"{p}.yaml").read_text()
]


@pytest.mark.parametrize("preset", DECLARED)
def test_the_declared_seed_count_is_the_one_the_sweep_runs(preset, tmp_path):
    """A declaration that says "N seeds" (in its seed rule or its setup) says how many the
    sweep runs: the page quotes both, and they once disagreed (downsampling: 5 vs 20)."""
    import re

    cfg = compose([f"experiment={preset}"], tmp_path, keep_hydra=True)
    claim = cfg.claim
    runs = _seed_count(str(cfg.hydra.sweeper.params.seed))
    said = re.findall(r"(\d+) seeds", str(claim.get("setup", "")))
    rule = re.match(r"\s*(\d+)\b", str(claim.get("seeds", "")))
    assert said or rule, "the declaration says how many seeds"
    assert {int(n) for n in said} | ({int(rule[1])} if rule else set()) == {runs}
