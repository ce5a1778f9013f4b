"""The results page a reviewer reads: rebuilt from committed files, no empty lists, no GPU
line when nothing ran on a GPU, no direction word on a metric that has none, and verdict words
only in sections whose runs were made under their declaration."""

from __future__ import annotations

import re
import shutil

import pytest

from biaslab.analysis.metrics import metric
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "results.md"


def test_the_page_has_no_empty_list_and_no_zero_gpu_line():
    text = PAGE.read_text()
    assert not re.search(r"\b0 of \d+ runs ran on the GPU", text)
    assert not re.search(r":\s+\(\d+ (seeds?|runs?)\)", text)  # a list with no items before it
    assert not re.search(r": \.", text)


def test_direction_words_follow_the_metric_registry():
    text = PAGE.read_text()
    for name, word in re.findall(r"on `([^`]+)`(?: \((higher|lower) is better\))?", text):
        assert (word or None) == metric(name).better, name
    for line in text.splitlines():  # a metric without a direction never gets better/worse
        found = re.match(r"- on `([^`]+)`", line.strip())
        if found and metric(found.group(1)).better is None:
            assert "better" not in line and "worse" not in line, line


def test_verdict_words_appear_only_in_declared_sections():
    for section in PAGE.read_text().split("\n## ")[1:]:
        if "**Exploratory**" in section.split("\n\n| arm")[0]:
            lines = section.split("**Exploratory**", 1)[1].split("\n\n", 2)[1]
            words = r"\*\*(better|worse|equivalent|inconclusive|higher|lower|too few)"
            assert not re.search(words, lines)


CHARTS = sorted((ROOT / "docs" / "results").rglob("*.png"))


def test_every_published_chart_is_shown_by_its_report():
    """A chart its report does not show is left over from an earlier run of the preset (a
    re-run's files copied over the old ones): it would be read as this run's."""
    orphans = [
        str(png.relative_to(ROOT))
        for png in CHARTS
        if f"]({png.name})" not in (png.parent / "report.md").read_text()
    ]
    assert not orphans


def _is_number(level: str) -> bool:
    try:
        float(level)
    except ValueError:
        return level in ("null", "None", "nan")
    return True


@pytest.mark.parametrize("png", CHARTS, ids=lambda p: str(p.relative_to(ROOT / "docs" / "results")))
def test_every_published_chart_reads_as_a_reader_needs(png):
    """Each chart in docs/results, as the plotting code drew it (its `CHART_KEY` text chunk):
    >= 150 dpi; <= 6 series per panel; every legend entry names its factor (`key=value`); a
    factor whose levels are numbers sits on a numeric axis, each series in ascending order."""
    import json

    from PIL import Image

    from biaslab.analysis.figure import CHART_KEY, MAX_SERIES

    image = Image.open(png)
    assert min(image.info["dpi"]) >= 149.5
    chart = json.loads(image.text[CHART_KEY])
    levels = [v for v in chart.get("levels", []) if v != "(unused)"]
    if levels and all(_is_number(v) for v in levels) and not all(v == "null" for v in levels):
        assert chart["axis"] == "numeric", chart["factor"]
    assert all("=" in entry for entry in chart["legend"]), chart["legend"]
    marks = chart["factor"] in ("arm", "difference")  # v2: a legend of marks, arms on the axis
    for panel in chart["panels"]:
        assert panel["series"] <= MAX_SERIES or marks
        assert marks or all("=" in entry for entry in panel["legend"]), panel["legend"]
        if chart["axis"] == "numeric":
            assert all(list(x) == sorted(x) for x in panel["x"]), panel["x"]


def test_generalisation_is_read_at_the_first_epoch_that_reaches_the_target_train_loss(tmp_path):
    """at_target/*: validation accuracy and train - validation accuracy at the first epoch end
    whose train loss is <= report.target_loss; NaN where a run never gets there."""
    import math

    from biaslab.analysis.derived import add_derived
    from biaslab.analysis.load import load_sweep
    from biaslab.analysis.pack import unpacked
    from biaslab.run.files import find_runs

    with unpacked(ROOT / "docs" / "results" / "gat") as runs_dir:
        copy = tmp_path / "gat"
        shutil.copytree(runs_dir, copy)
    runs = find_runs(copy)
    header = "epoch,step,train/loss,train/acc,val/loss,val/acc,wall_s\n"
    reached = header + "".join(
        f"{e},{10 * (e + 1)},{loss},{acc},0.5,{val},1.0\n"
        for e, (loss, acc, val) in enumerate(
            [(0.9, 0.6, 0.7), (0.38, 0.9, 0.85), (0.3, 0.95, 0.86)]
        )
    )
    for run in runs:
        run.history.write_text(reached)
    runs[0].history.write_text(header + "0,10,0.9,0.6,0.5,0.7,1.0\n")  # never reaches 0.4
    frame = load_sweep(copy)
    add_derived(frame, {"target_loss": 0.4})
    first = frame["run_dir"].astype(str) == str(runs[0].path)
    assert frame.loc[first, "at_target/val_acc"].isna().all()
    rest = frame[~first]
    assert (rest["steps_to_target"] == 20).all() and (rest["at_target/val_acc"] == 0.85).all()
    assert all(math.isclose(g, 0.05) for g in rest["at_target/gap_acc"])


def test_a_packed_preset_unpacks_to_the_same_files_and_the_same_report(tmp_path):
    """A published preset is a few files (runs.csv and three archives): unpacked, they are
    the run folders again, byte for byte, and the report rebuilt from them is the committed one;
    the runs table has a row per run with its overrides, device, commit and metrics."""
    import csv

    from biaslab.analysis.pack import is_packed, pack, runs_equal, unpacked
    from biaslab.analysis.report import write_report

    committed = ROOT / "docs" / "results" / "gat"
    assert is_packed(committed) and len(list(committed.rglob("*"))) < 40
    with unpacked(committed) as runs:
        again = tmp_path / "gat"
        pack(runs, again)
        with unpacked(again) as twice:
            assert runs_equal(runs, twice)
        for name in ("preset.json", "tuning.json"):
            shutil.copy2(committed / name, again / name)
    out = write_report(again)
    assert (out / "report.md").read_text() == (committed / "report" / "report.md").read_text()
    with open(committed / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    finals = [r for r in rows if r["status"] == "finished"]
    assert finals and all(r["overrides"] and "test/acc" in r and r["commit"] for r in finals)


def test_the_opening_table_gives_each_sections_stance_on_the_lecture():
    """The opening table's last column is each discussion's first sentence (`et al.` is not a
    full stop); every lecture section has one."""
    from biaslab.analysis.verdicts import first_sentence

    assert (
        first_sentence("Agrees with Xiong et al. (2020). More.")
        == "Agrees with Xiong et al. (2020)"
    )
    assert first_sentence("Partly agrees: the CNN wins.") == "Partly agrees"
    rows = [r for r in PAGE.read_text().split("\n\n")[1].splitlines()[2:]]
    assert rows and all(r.rstrip(" |").rsplit("|", 1)[1].strip() for r in rows)


WORD = re.compile(
    r"`((?:better|worse|higher|lower|inconclusive|too few seeds|equivalent)(?: \([^)`]*\))?"
    r"(?: within ±[\d.]+)?)`"
)


def test_a_discussion_uses_only_its_sections_computed_verdict_words():
    """A verdict word a discussion quotes in backticks is one the page computed for that
    section (a stale word from an earlier rule or run fails here), unless the page says the
    discussion was written against an earlier protocol's words."""
    sections = {re.search(r"`([^`]+)`", s).group(1): s for s in PAGE.read_text().split("\n## ")[1:]}
    for name, section in sections.items():
        discussion = ROOT / "docs" / "results" / name / "discussion.md"
        if not discussion.exists() or "**Exploratory**" in section:
            continue
        if "(written against the protocol-1 page's words" in section:
            continue  # said on the page: its words are v1's until the discussion is rewritten
        computed = set(re.findall(r"\*\*([^*]+)\*\* \(", section))
        quoted = set(WORD.findall(discussion.read_text()))
        assert quoted <= computed, (name, quoted - computed)
