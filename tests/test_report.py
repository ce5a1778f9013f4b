"""scripts/report.py on a real 2-arm x 2-seed sweep: means and intervals checked independently."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

FAST = [
    "logger=csv",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    env = {**os.environ, "BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    subprocess.run(
        [sys.executable, "src/train.py", "-m", "optimizer=sgd,adam", "seed=0,1", *FAST],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sweep_dir,) = (root / "logs" / "train" / "multiruns").iterdir()
    return sweep_dir


def independent(sweep_dir):
    """{arm: {seed: test/acc}} straight from each job's overrides and metrics.json."""
    arms: dict[str, dict[str, float]] = {}
    for job in sweep_dir.iterdir():
        if job.is_dir() and job.name.isdigit():
            overrides = dict(
                o.split("=", 1)
                for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
            )
            acc = json.loads((job / "metrics.json").read_text())["test/acc"]
            arms.setdefault(f"optimizer={overrides['optimizer']}", {})[overrides["seed"]] = acc
    return arms


def t975(df: int) -> float:
    return {1: 12.706204736174707}[df]  # Student's t, 97.5 % quantile, 1 degree of freedom


def test_report_means_intervals_and_paired_differences(sweep):
    out = subprocess.run(
        [sys.executable, "scripts/report.py", str(sweep), "--baseline", "optimizer=sgd"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| optimizer=adam | 2 |" in out.stdout
    report = sweep / "report_optimizer=sgd"  # a baseline the sweep did not configure
    with open(report / "arms.csv") as f:
        rows = {r["arm"]: r for r in csv.DictReader(f)}
    arms = independent(sweep)
    assert set(rows) == set(arms) == {"optimizer=sgd", "optimizer=adam"}
    n_test = json.loads(next(sweep.glob("0/metrics.json")).read_text())["test/n"]
    for arm, by_seed in arms.items():
        values = list(by_seed.values())
        mean = statistics.mean(values)
        assert float(rows[arm]["test/acc mean"]) == pytest.approx(mean, abs=1e-9)
        p = (mean * n_test + 2) / (n_test + 4)  # seeds' variance + the test set's binomial error
        half = t975(1) * math.sqrt(statistics.variance(values) / 2 + p * (1 - p) / (n_test + 4))
        assert float(rows[arm]["test/acc ci95"]) == pytest.approx(half, abs=1e-9)
    with open(report / "report.csv") as f:
        (compared,) = list(csv.DictReader(f))  # one family: adam against sgd
    diffs = [arms["optimizer=adam"][s] - arms["optimizer=sgd"][s] for s in ("0", "1")]
    assert compared["arm"] == "optimizer=adam" and compared["baseline"] == "optimizer=sgd"
    # from the saved predictions (exact) against metrics.json's float32 accuracies
    assert float(compared["diff"]) == pytest.approx(statistics.mean(diffs), abs=1e-6)
    assert compared["resampled"] == "seeds × test examples"  # the saved predictions were read
    assert compared["word"] == "too few seeds"  # 2 seeds: a sign-flip p cannot go below 0.5
    assert "commit:" in out.stdout and "- protocol: **v2**" in out.stdout
    assert (report / "arms__test_acc.png").stat().st_size > 1000
    assert (report / "forest.png").stat().st_size > 1000
    assert (report / "curves_train_loss.png").stat().st_size > 1000
    for column in ("params/total mean", "time/fit_s mean", "time/samples_per_s mean"):
        assert float(rows["optimizer=adam"][column]) > 0


@pytest.mark.slow
def test_reports_with_other_baselines_never_overwrite_and_a_plain_sweep_says_when_and_where(sweep):
    """Two baselines in one call: two reports, each under its own name and naming the command
    that rebuilds it; a plain sweep's header fills in date, machine and wall time from its runs'
    files and calls itself a sweep, not a preset."""
    cmd = [sys.executable, "scripts/report.py", str(sweep), "--baseline", "optimizer=sgd"]
    subprocess.run(
        [*cmd, "--baseline", "optimizer=adam"], cwd=ROOT, check=True, capture_output=True
    )
    sgd = (sweep / "report_optimizer=sgd" / "report.md").read_text()
    adam = (sweep / "report_optimizer=adam" / "report.md").read_text()
    assert "--baseline optimizer=sgd`" in sgd and "--baseline optimizer=adam`" in adam
    assert (
        "| optimizer=sgd | optimizer=adam |" in adam and "| optimizer=adam | optimizer=sgd |" in sgd
    )
    assert sgd.startswith(f"# Sweep {sweep.name}\n") and "preset" not in sgd.split("- protocol")[0]
    header = sgd.split("- protocol")[0]
    assert "date: ?" not in header and "machine: ?" not in header and "wall time: ?" not in header
    assert re.search(r"wall time: \d+ s from the first run's start", header)
    named = subprocess.run([*cmd, "--out", "mine"], cwd=ROOT, check=True, capture_output=True)
    assert "--out mine`" in (sweep / "mine" / "report.md").read_text() and named.returncode == 0


def _run_notebook(first_cell: str | None) -> tuple[str, int]:
    """The notebook run as Jupyter runs it (nbclient, a real kernel): its text and markdown
    outputs, and how many images it showed inline."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / "sweep_report.ipynb", as_version=4)
    if first_cell:
        nb.cells.insert(0, nbformat.v4.new_code_cell(first_cell))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/markdown", "") for o in outputs)
    return text, sum("image/png" in o.get("data", {}) for o in outputs)


def test_notebook_code_path(sweep):
    text, images = _run_notebook(f"SWEEP_DIR = {str(sweep)!r}; BASELINE = 'optimizer=sgd'")
    assert "| optimizer=adam |" in text and "diff vs optimizer=sgd" in text  # a table, not raw
    assert images >= 2  # the charts are shown, not only saved


@pytest.mark.slow
def test_the_notebook_runs_on_a_fresh_clone_from_a_committed_preset():
    text, images = _run_notebook(None)
    assert "fc_vs_cnn" in text and "| model=cnn_small |" in text and images >= 2


def test_a_pe_override_on_a_cnn_is_recorded_as_unused(train_fast, tmp_path):
    train_fast("model=cnn", "pe=rope")
    resolved = yaml.safe_load((tmp_path / "config_resolved.yaml").read_text())
    assert resolved["pe"] is None  # the run's config (and W&B's copy of it) names no PE
    train_fast("model=vit", "pe=learned", "pe.max_len=16", path=tmp_path / "vit")
    resolved = yaml.safe_load((tmp_path / "vit" / "config_resolved.yaml").read_text())
    assert resolved["pe"]["_target_"] == "biaslab.models.pe.LearnedPE"


@pytest.mark.slow
def test_report_does_not_split_cnn_arms_by_an_unused_pe(tmp_path):
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    subprocess.run(
        [
            sys.executable,
            "src/train.py",
            "-m",
            "model=cnn,vit",
            "pe=sinusoidal,rope",
            "seed=0",
            *FAST,
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sweep_dir,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    sys.path.insert(0, str(ROOT / "src"))
    from biaslab.analysis.load import UNUSED, load_sweep
    from biaslab.analysis.tables import summarize

    table = summarize(load_sweep(sweep_dir))
    assert sorted(table["arm"]) == sorted(
        [f"model=cnn,pe={UNUSED}", "model=vit,pe=rope", "model=vit,pe=sinusoidal"]
    )
    assert table.set_index("arm").loc[f"model=cnn,pe={UNUSED}", "seeds"] == 1  # not counted twice


def test_directions_come_from_the_metric_registry():
    """A smaller loss is better, a larger accuracy is better, and a gap (no direction in the
    registry) is only higher or lower: the v2 words through the pure function."""
    import pandas as pd

    from biaslab.study.spec import Preset
    from biaslab.study.verdicts import decide_section

    rows = [
        {
            "opt": arm,
            "seed": str(s),
            "status": "ok",
            "gap/acc": gap + 0.001 * s,
            "train_eval/loss": gap,
            "val/acc": 1 - gap + 0.001 * s,
        }
        for arm, gap in (("a", 0.10), ("b", 0.02))
        for s in range(8)
    ]
    frame = pd.DataFrame(rows)
    params = {"opt": "a,b", "seed": "range(8)"}
    for primary, word in (
        ("gap/acc", "lower"),
        ("train_eval/loss", "better"),
        ("val/acc", "better"),
    ):
        node = {
            "report": {"primary": primary, "baseline": "opt=a"},
            "hydra": {"sweeper": {"params": params}},
        }
        (c,) = decide_section(frame, Preset.from_dict("t", node), n_boot=500).comparisons
        assert c.word == word, primary


def test_numeric_factors_sit_in_numeric_order_with_the_full_set_last_at_150_dpi(tmp_path):
    """data.train_per_class = 100, 2000, 500, null: a numeric axis (not string order), the full
    set (null) last at its declared size; the chart is written at 150 dpi."""
    import pandas as pd
    from PIL import Image

    from biaslab.analysis.plots import numeric_levels, plot_factor

    positions, spot = numeric_levels(["100", "2000", "500", "null"], full=5400)
    assert positions == [100.0, 2000.0, 500.0, 5400.0] and spot == 5400.0
    assert numeric_levels(["100", None], full=None)[1] == 300.0  # one step past the largest
    assert numeric_levels(["cnn", "vit"]) is None
    table = pd.DataFrame(
        {
            "arm": ["a", "b", "c", "d"],
            "data.train_per_class": ["100", "2000", "500", "null"],
            "test/acc mean": [0.7, 0.85, 0.8, 0.9],
            "test/acc ci95": [0.01] * 4,
        }
    )
    table.attrs["factors"] = ["data.train_per_class"]
    png = tmp_path / "chart.png"
    full_size = {"data.train_per_class": 5400}
    plot_factor(table, "data.train_per_class", "test/acc", png, full_size)
    assert round(Image.open(png).info["dpi"][0]) == 150


def test_a_factor_chart_names_the_full_set_by_its_size_in_its_legend(tmp_path):
    """Charted against the model, the series of the full set (data.train_per_class=null) reads
    `data.train_per_class=5400 (all)` in the legend, as on the x axis of the other chart."""
    import json

    import pandas as pd
    from PIL import Image

    from biaslab.analysis.figure import CHART_KEY
    from biaslab.analysis.plots import plot_factor

    table = pd.DataFrame(
        {
            "arm": ["a", "b", "c", "d"],
            "model": ["cnn", "cnn", "vit", "vit"],
            "data.train_per_class": ["100", "null", "100", "null"],
            "test/acc mean": [0.8, 0.9, 0.7, 0.85],
            "test/acc ci95": [0.01] * 4,
        }
    )
    table.attrs["factors"] = ["model", "data.train_per_class"]
    png = tmp_path / "chart.png"
    plot_factor(table, "model", "test/acc", png, {"data.train_per_class": 5400})
    legend = json.loads(Image.open(png).text[CHART_KEY])["legend"]
    assert legend == ["data.train_per_class=100", "data.train_per_class=5400 (all)"], legend


def test_forest_labels_name_the_full_set_by_its_size_as_the_factor_charts_do():
    """The forest plot's rows read `report.full_size`: data.train_per_class=null is labelled
    `train_per_class=5400 (all)`, other keys shortened to their last part, untouched."""
    from biaslab.analysis.figure import arm_label

    full = {"data.train_per_class": 5400}
    arm = "data.train_per_class=null,model=vit_18k"
    assert arm_label(arm, full) == "train_per_class=5400 (all), model=vit_18k"
    assert arm_label(arm) == "train_per_class=null, model=vit_18k"
    assert arm_label("data.train_per_class=100,model.backbone.k=5", full) == (
        "train_per_class=100, k=5"
    )
    curve = "data.train_per_class=null, model=vit_18k"  # a curves chart's series, keys whole
    assert arm_label(curve, full, shorten=False) == "data.train_per_class=5400 (all), model=vit_18k"


@pytest.mark.parametrize("preset, x", [("data_scaling", "step"), ("gat", "epoch")])
def test_curves_of_an_equal_step_design_run_against_the_step_naming_the_full_set(
    preset, x, tmp_path
):
    """data_scaling gives every size 1,000 steps: 143 epochs of the smallest subset, 2.4 of the
    whole set, so its curves against the epoch hid the equal compute, and its legend said
    `data.train_per_class=null` where the other charts say 5400 (all). Equal-epoch designs
    (gat) keep the epoch axis."""
    from PIL import Image

    from biaslab.analysis.figure import CHART_KEY
    from biaslab.analysis.load import load_sweep
    from biaslab.analysis.pack import unpacked
    from biaslab.analysis.plots import plot_curves

    full = {"data.train_per_class": 5400}
    with unpacked(ROOT / "docs" / "results" / preset) as runs:
        assert plot_curves(load_sweep(runs), "train/loss", tmp_path / "c.png", full)
    chart = json.loads(Image.open(tmp_path / "c.png").text[CHART_KEY])
    assert chart["factor"] == x
    if preset == "data_scaling":
        assert "data.train_per_class=5400 (all)" in chart["legend"], chart["legend"]
        assert not [entry for entry in chart["legend"] if "null" in entry]
        assert max(max(xs) for panel in chart["panels"] for xs in panel["x"]) == 1000


def test_a_panels_series_differ_in_hue_and_marker():
    """Up to MAX_SERIES series share a panel: each has its own marker, and no two coloured ones
    sit within 12 degrees of hue (tableau-colorblind10 gave two blues and two oranges)."""
    import colorsys

    from matplotlib.colors import to_rgb

    from biaslab.analysis.figure import MAX_SERIES, series_style

    styles = [series_style(k) for k in range(MAX_SERIES)]
    assert len({s["marker"] for s in styles}) == MAX_SERIES
    hsv = [colorsys.rgb_to_hsv(*to_rgb(s["color"])) for s in styles]
    hues = [h * 360 for h, sat, _ in hsv if sat > 0.1]
    for i, a in enumerate(hues):
        for b in hues[i + 1 :]:
            assert min(abs(a - b), 360 - abs(a - b)) >= 12, (a, b)


def test_the_tuning_lines_say_which_tied_value_was_taken(sweep, tmp_path):
    """Three values tied: the middle one; two tied: the lower of the middle two (tuning.pick's
    rule), said as such rather than 'the middle one' of two."""
    import shutil

    copy = tmp_path / sweep.name
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns("report*"))
    entry = {"metric": "val/acc_best", "tie": 0.002}
    (copy / "tuning.json").write_text(
        json.dumps(
            {
                "a": {
                    **entry,
                    "arm": {"optimizer": "sgd"},
                    "chosen": {"optimizer.lr": "0.01"},
                    "scores": {"0.003": 0.881, "0.01": 0.882, "0.03": 0.8825},
                    "tied": ["0.003", "0.01", "0.03"],
                },
                "b": {
                    **entry,
                    "arm": {"optimizer": "adam"},
                    "chosen": {"optimizer.lr": "0.003"},
                    "scores": {"0.001": 0.85, "0.003": 0.881, "0.01": 0.882},
                    "tied": ["0.003", "0.01"],
                },
            }
        )
    )
    subprocess.run(
        [sys.executable, "scripts/report.py", str(copy)], cwd=ROOT, check=True, capture_output=True
    )
    text = (copy / "report" / "report.md").read_text()
    assert "0.003, 0.01, 0.03 (the middle one in grid order is taken)" in text
    assert "0.003, 0.01 (the lower of the middle two in grid order is taken)" in text
    assert "Tuned per arm on the validation set" in text
    # tuned on the training loss (as depth and optimizers are): the line names it, not validation
    tuned = json.loads((copy / "tuning.json").read_text())
    for arm in tuned.values():
        arm["metric"] = "train/loss"
    (copy / "tuning.json").write_text(json.dumps(tuned))
    subprocess.run(
        [sys.executable, "scripts/report.py", str(copy)], cwd=ROOT, check=True, capture_output=True
    )
    text = (copy / "report" / "report.md").read_text()
    assert "Tuned per arm on train/loss before" in text
    assert "Tuned per arm on the validation set" not in text


def test_a_wandb_run_name_gives_back_its_values_list_values_intact():
    from biaslab.analysis.load import name_values

    assert name_values("model.backbone.channels=[32,64],seed=1,model=vit") == {
        "model.backbone.channels": "[32,64]",
        "seed": "1",
        "model": "vit",
    }


def _section(rows: list[dict], params: dict, report: dict, comparisons: list | None = None):
    import pandas as pd

    from biaslab.study.spec import Preset
    from biaslab.study.verdicts import decide_section

    node = {"report": report, "hydra": {"sweeper": {"params": params}}}
    if comparisons:
        node["claim"] = {"id": "T", "text": "t", "comparisons": comparisons}
    return decide_section(pd.DataFrame(rows), Preset.from_dict("t", node), n_boot=300)


def test_every_declared_comparison_is_in_the_sections_one_family():
    """fc_vs_cnn's shape: arms a, b, c against a, then against c: one family holds every pair
    both comparisons make, each once, the report's and the page's alike."""
    rows = [
        {"model": arm, "seed": str(s), "status": "ok", "test/acc": acc + 0.002 * s}
        for arm, acc in (("a", 0.80), ("b", 0.85), ("c", 0.83))
        for s in range(8)
    ]
    section = _section(
        rows,
        {"model": "a,b,c", "seed": "range(8)"},
        {"primary": "test/acc", "baseline": "model=a", "delta": 0.01},
        [{"baseline": "model=c", "metric": "test/acc", "delta": 0.01}],
    )
    pairs = [(c.arm_name, c.baseline_name) for c in section.comparisons]
    assert len(pairs) == len(set(pairs)) == section.family_size == 4
    assert {c.level for c in section.comparisons} <= {0.05 / 4, 0.05 / 3, 0.05 / 2, 0.05}


def test_a_comparison_at_one_setting_tests_each_pair_once():
    """attn_vs_rnn's shape: every model runs at 1 thread and at all threads, the same training
    twice. Compared at all threads only (`at`), the family holds one pair, not two."""
    rows = [
        {"model": m, "threads": t, "seed": str(s), "status": "ok", "test/acc": a + 0.003 * s}
        for m, a in (("rnn", 0.80), ("attn", 0.82))
        for t in ("1", "all")
        for s in range(8)
    ]
    params = {"model": "rnn,attn", "threads": "1,all", "seed": "range(8)"}
    report = {"primary": "time/step_ms", "baseline": "model=rnn"}
    at = [{"baseline": "model=rnn", "metric": "test/acc", "delta": 0.01, "at": {"threads": "all"}}]
    section = _section(
        [{**r, "time/step_ms": 1.0 + (r["model"] == "attn")} for r in rows], params, report, at
    )
    on_acc = section.of_metric("test/acc")
    assert len(on_acc) == 1 and dict(on_acc[0].arm) == {"model": "attn", "threads": "all"}
    assert len(section.of_metric("time/step_ms")) == 2 and section.family_size == 3


def test_an_epoch_axis_ticks_whole_epochs_only():
    """A 3-epoch curve got ticks at 0.5 and 1.5 (epochs that do not exist) from matplotlib's
    default locator; the curves' epoch axis ticks whole epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biaslab.analysis.plots import epoch_axis

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0.5, 0.2, 0.1])
    default = [t for t in ax.get_xticks() if 0 <= t <= 2]
    epoch_axis(ax)
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 2]
    plt.close(fig)
    assert any(t != int(t) for t in default)  # what the default locator does here
    assert ticks and all(t == int(t) for t in ticks)
    assert ax.get_xlabel() == "epoch"


def test_the_forest_band_names_delta_with_the_primarys_unit():
    """The forest's title named δ as a bare number ("±δ = 1" for 1 ms of step time)."""
    from biaslab.analysis.plots import delta_words

    assert delta_words("time/step_ms", 1.0) == "±δ = 1 ms"
    assert delta_words("train_eval/loss", 0.02) == "±δ = 0.02 nats"
    assert delta_words("test/acc", 0.01) == "±δ = 0.01"  # a proportion's 0.01 reads as it is
    assert delta_words("critical/min_ratio", 0.05) == "±δ = 0.05"  # no unit in the registry


def test_levels_are_ordered_as_a_reader_counts_numbers_in_names_too():
    """Charts, forests and tables order levels by `level_key`: numbers as numbers, the full set
    last, and names with the numbers in them read as numbers (board9 before board19), not
    in string order."""
    from biaslab.analysis.figure import level_key

    assert sorted(["128", "null", "32", "2048"], key=level_key) == ["32", "128", "2048", "null"]
    names = ["fashion_mnist_10k", "board19", "board9", "vit_18k", "cnn_small"]
    assert sorted(names, key=level_key) == [
        "board9",
        "board19",
        "cnn_small",
        "fashion_mnist_10k",
        "vit_18k",
    ]
    assert sorted(["layer10", "layer2", "layer2b"], key=level_key) == [
        "layer2",
        "layer2b",
        "layer10",
    ]
