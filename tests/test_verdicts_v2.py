"""Protocol v2's verdicts through the pure function (`biaslab.study.verdicts.decide_section`) on
constructed tables of runs, one arm per outcome of the rule; the forest plot's artists; and
the published reports and page as v2 rebuilds them (every section names its protocol, one
family per section, the same in report.md and docs/results.md, byte-for-byte rebuilds)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from biaslab.errors import ConfigError
from biaslab.study import protocol as P
from biaslab.study.spec import Preset
from biaslab.study.verdicts import decide_section
from tests.conftest import ROOT

RESULTS = ROOT / "docs" / "results"
DELTA = 0.01
# arm: (mean difference from the baseline, per-seed spread of that difference)
DESIGN = {
    "beyond": (0.05, 0.002),
    "within": (0.004, 0.0004),
    "undecided": (0.012, 0.004),
    "equivalent": (0.0, 0.001),
    "inconclusive": (0.0, 0.03),
    "worse": (-0.03, 0.002),
}


def preset_of(arms: list[str], seeds: int, counts: bool = False) -> Preset:
    report = {"primary": "test/acc", "baseline": "model=base", "delta": DELTA}
    if counts:
        report["counts"] = ["diverged"]
    claim = {"id": "T.1", "text": "constructed"}
    if counts:
        claim["comparisons"] = [{"baseline": "model=base", "metric": "diverged"}]
    params = {"model": ",".join(["base", *arms]), "seed": f"range({seeds})"}
    node = {"claim": claim, "report": report, "hydra": {"sweeper": {"params": params}}}
    return Preset.from_dict("constructed", node)


def runs(seeds: int, design: dict, rng_seed: int = 0) -> pd.DataFrame:
    """One finished run per arm and seed: the baseline near 0.8, each arm its designed paired
    difference (the per-seed differences centred exactly on the designed mean)."""
    rng = np.random.default_rng(rng_seed)
    base = 0.8 + rng.normal(0, 0.01, seeds)
    rows = [{"model": "base", "seed": str(s), "test/acc": base[s]} for s in range(seeds)]
    for arm, (mean, spread) in design.items():
        noise = rng.normal(0, spread, seeds)
        noise -= noise.mean()
        rows += [
            {"model": arm, "seed": str(s), "test/acc": base[s] + mean + noise[s]}
            for s in range(seeds)
        ]
    frame = pd.DataFrame(rows).assign(status="ok")
    frame["run_dir"] = [f"{r.model}/{r.seed}" for r in frame.itertuples()]
    return frame


def words_of(section) -> dict[str, str]:
    return {dict(c.arm)["model"]: c.word for c in section.comparisons}


def test_each_outcome_of_the_rule_gets_its_word_through_the_pure_function():
    preset = preset_of(list(DESIGN), 16)
    section = decide_section(runs(16, DESIGN), preset, n_boot=2000)
    assert words_of(section) == {
        "beyond": "better (beyond δ)",
        "within": "better (within δ)",
        "undecided": "better (vs δ undecided)",
        "equivalent": P.EQUIVALENT,
        "inconclusive": P.INCONCLUSIVE,
        "worse": "worse (beyond δ)",
    }
    assert section.family_size == preset.family_size == len(DESIGN)  # one family, all of it
    levels = sorted(c.level for c in section.comparisons)
    assert levels[0] == pytest.approx(0.05 / len(DESIGN))  # Holm's first step
    for c in section.comparisons:  # the word is read off the one interval it prints
        assert P.word(c.low, c.high, DELTA) == c.word and c.low <= c.diff <= c.high
        assert c.p_t == pytest.approx(P.t_p(c.per_seed)) and c.source == "seeds"


def test_a_family_whose_seeds_cannot_reach_its_first_holm_level_says_too_few_seeds():
    design = {"beyond": DESIGN["beyond"], "worse": DESIGN["worse"]}
    section = decide_section(runs(5, design), preset_of(list(design), 5), n_boot=500)
    assert set(words_of(section).values()) == {P.TOO_FEW}  # 2/2^5 = 0.0625 > 0.05 / 2
    assert all(c.too_few and c.p_signflip == pytest.approx(0.0625) for c in section.comparisons)


def test_a_count_is_tested_as_a_count_beside_the_mean():
    design = {"unstable": (0.0, 0.001)}
    frame = runs(10, design)
    frame["diverged"] = [
        float(m == "unstable" and int(s) < 9) for m, s in zip(frame.model, frame.seed)
    ]
    section = decide_section(frame, preset_of(list(design), 10, counts=True), n_boot=500)
    (count,) = section.of_metric("diverged")
    from scipy import stats

    table = [[9, 1], [0, 10]]
    assert count.kind == "count" and count.counts == (9, 10, 0, 10)
    assert count.p_barnard == pytest.approx(stats.barnard_exact(table).pvalue)
    assert count.p_fisher == pytest.approx(stats.fisher_exact(table).pvalue)
    assert count.word == "worse"  # diverged: lower is better (the metric registry)
    assert section.family_size == 2 and np.isnan(count.low)


def test_per_example_correctness_widens_the_interval_with_the_test_sets_sampling():
    """The same per-seed accuracies, once as per-run scores, once resolved into 500 test
    examples: the two-level interval is wider (the test set's sampling is counted)."""
    rng = np.random.default_rng(1)
    frame = runs(8, {"a": (0.01, 0.002)})
    correct = {}
    for r in frame.itertuples():
        hits = rng.random(500) < r._3  # ~acc of 500 examples correct
        correct[r.run_dir] = hits
    frame["test/acc"] = [correct[d].mean() for d in frame["run_dir"]]
    preset = preset_of(["a"], 8)
    seeds_only = decide_section(frame, preset, None, n_boot=2000).comparisons[0]
    both = decide_section(frame, preset, correct, n_boot=2000).comparisons[0]
    assert both.source == "seeds × test examples" and seeds_only.source == "seeds"
    assert both.diff == pytest.approx(seeds_only.diff)
    assert both.high - both.low > seeds_only.high - seeds_only.low


def test_the_forest_plot_draws_the_band_the_deciding_interval_and_the_word():
    from matplotlib.lines import Line2D

    from biaslab.study.charts import BAND, INTERVAL, WORD, forest_figure

    section = decide_section(runs(16, DESIGN), preset_of(list(DESIGN), 16), n_boot=1000)
    fig = forest_figure(section)
    (ax,) = fig.axes
    bands = [p for p in ax.patches if p.get_gid() == BAND]
    assert len(bands) == 1
    band = bands[0]  # a Rectangle (matplotlib >= 3.9) or a Polygon, in data x
    if hasattr(band, "get_width"):
        xs = [band.get_x(), band.get_x() + band.get_width()]
    else:
        xs = [v[0] for v in band.get_xy()]
    assert min(xs) == pytest.approx(-DELTA) and max(xs) == pytest.approx(DELTA)
    for c in section.comparisons:
        name = c.arm_name
        (line,) = [a for a in ax.get_children() if a.get_gid() == f"{INTERVAL}:{c.metric}:{name}"]
        assert isinstance(line, Line2D) and list(line.get_xdata()) == [c.low, c.high]
        (text,) = [a for a in ax.texts if a.get_gid() == f"{WORD}:{c.metric}:{name}"]
        assert text.get_text() == c.word
    assert ax.get_xlabel() == "← worse | better →"  # which side is better (test/acc: higher)


def test_a_page_refuses_a_protocol_it_does_not_know(tmp_path):
    from biaslab.analysis.page import check_version

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "preset.json").write_text('{"protocol": 3}')
    with pytest.raises(ConfigError, match="protocol 3"):
        check_version("x", tmp_path / "x")
    (tmp_path / "x" / "preset.json").write_text("{}")
    assert check_version("x", tmp_path / "x") == 1


REPORTS = sorted(RESULTS.glob("*/report/report.md"))


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.parent.name)
def test_every_report_names_its_protocol_version(report):
    assert f"- protocol: **v{P.PROTOCOL_VERSION}**" in report.read_text()
    assert "they were made under protocol" in report.read_text()


def test_every_page_section_names_its_protocol_and_its_reports_family():
    page = (ROOT / "docs" / "results.md").read_text()
    for section in page.split("\n## ")[1:-1]:  # the digits list closes the page
        name = re.search(r"`([^`]+)`", section)[1]
        if "**Not run yet**" in section:
            continue
        assert f"*Protocol v{P.PROTOCOL_VERSION} reads runs made under protocol" in section
        m = int(re.search(r"one family of (\d+) comparison", section)[1])
        table = pd.read_csv(RESULTS / name / "report" / "report.csv")
        assert m == len(table), name  # the same family as the report's
        report = (RESULTS / name / "report" / "report.md").read_text()
        assert f"one family of {m} comparison" in report


def _rebuilds(name: str, tmp_path) -> None:
    from biaslab.analysis.report import write_report

    copy = tmp_path / name
    shutil.copytree(RESULTS / name, copy)
    shutil.rmtree(copy / "report")
    out = write_report(copy)
    committed = RESULTS / name / "report"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in committed.iterdir())
    for path in committed.iterdir():
        assert (out / path.name).read_bytes() == path.read_bytes(), f"{name}/{path.name}"


def test_a_committed_report_rebuilds_byte_for_byte(tmp_path):
    _rebuilds("attention_kind", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.parent.parent.name for p in REPORTS))
def test_every_committed_report_rebuilds_byte_for_byte(name, tmp_path):
    _rebuilds(name, tmp_path)


@pytest.mark.slow
def test_the_results_page_rebuilds_from_the_committed_files(tmp_path):
    """scripts/results_md.py's page, rebuilt in a copy of the committed files (conf/experiment
    and docs/results), is the committed docs/results.md, byte for byte."""
    from biaslab.analysis.page import write_page

    shutil.copytree(ROOT / "conf" / "experiment", tmp_path / "conf" / "experiment")
    shutil.copytree(RESULTS, tmp_path / "docs" / "results")
    page = write_page(tmp_path)
    assert page.read_bytes() == (ROOT / "docs" / "results.md").read_bytes()
