"""A re-run with seeds the page never used, read against the page: the same verdict words, or a
change said to be expected (the page called the comparison underpowered), or a change."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from biaslab.analysis.pilot import seeds_asked
from biaslab.analysis.replication import section_words
from biaslab.analysis.tables import holm_family
from biaslab.analysis.verdicts import comparison_lines, overview_row, seed_rule_line
from biaslab.study.replication import COUNTS, PICKED, read_against, summary
from biaslab.study.section import Comparison, Section
from tests.conftest import ROOT

FAST = [
    "logger=csv",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_test_batches=2",
    "hydra.sweeper.params.optimizer='sgd,adam'",
    "tune=null",
    "claim={id:X,text:first}",
]


def test_a_changed_word_counts_only_where_the_page_did_not_call_it_underpowered():
    page = {
        ("test/acc", "base", "a"): ("better", False),
        ("test/acc", "base", "b"): ("inconclusive", True),
        ("test/acc", "base", "c"): ("worse", False),
        ("test/acc", "base", "d"): ("equivalent within ±0.01", False),
        ("test/acc", "base", "e"): ("equivalent within ±0.01", False),
    }
    again = {
        ("test/acc", "base", "a"): ("better", False),
        ("test/acc", "base", "b"): ("better", False),
        ("test/acc", "base", "c"): ("inconclusive", True),
        ("test/acc", "base", "d"): ("equivalent within ±0.01", False),
        ("test/acc", "base", "e"): ("worse", False),
    }
    rows, broken = read_against(page, again)
    assert broken == 2
    assert [r.rsplit("|", 2)[1].strip() for r in rows] == [
        "same",
        "differs; the page says underpowered",
        "**differs**",
        "same",
        "**differs**",
    ]


def test_underpowered_is_an_mde_above_what_the_seed_rule_asks_and_the_page_says_it():
    """What the replication excuses is what the page says: a comparison whose MDE exceeds what
    the seed rule asks of its difference (`target_mde`: half of it beyond 2δ, else its distance
    from ±δ, at most δ), whatever its word: a `better` that just got through, an `equivalent`
    next to δ. A `better` far beyond its MDE and an `equivalent` far inside ±δ are not."""
    from biaslab.analysis.stats import target_mde

    rows = [
        {"arm": "noisy", "diff": 0.03, "diff ci95": 0.02, "diff sd": 0.03, "pairs": 10},
        {"arm": "large", "diff": 0.2, "diff ci95": 0.02, "diff sd": 0.03, "pairs": 10},
        {"arm": "tight", "diff": 0.03, "diff ci95": 0.002, "diff sd": 0.003, "pairs": 10},
        {"arm": "inside", "diff": 0.001, "diff ci95": 0.003, "diff sd": 0.004, "pairs": 10},
        {"arm": "near δ", "diff": 0.008, "diff ci95": 0.0015, "diff sd": 0.004, "pairs": 10},
    ]
    table = pd.DataFrame(rows).assign(
        **{"p seeds": [0.004, 1e-9, 1e-6, 0.6, 1e-4], "p equiv": [0.9, 0.9, 0.9, 0.001, 0.001]}
    )
    table.attrs.update(primary="test/acc", baseline="arm=base", delta=0.01, asked=None)
    holm_family([table])
    words = ["better"] * 3 + ["equivalent within ±0.01"] * 2
    assert list(table["verdict"]) == words
    targets = [target_mde(d, 0.01) for d in table["diff"]]
    assert targets == pytest.approx([0.015, 0.1, 0.015, 0.009, 0.002])
    assert list(table["underpowered"]) == list(table["MDE"] > targets)
    assert list(table["underpowered"]) == [True, False, False, False, True]
    lines = comparison_lines(table, True)
    assert "underpowered: MDE > 0.0150, what the seed rule asks of a difference" in lines[0]
    assert "underpowered: MDE > 0.0020" in lines[4]
    assert "underpowered" not in lines[1] + lines[2] + lines[3]


def test_a_comparison_on_fewer_seeds_than_its_pilot_asked_for_is_called_underpowered():
    diffs = 0.004 + np.random.default_rng(0).normal(0, 0.003, 10)  # tight: its MDE < δ
    row = {"arm": "a", "diff": diffs.mean(), "diff ci95": 0.002, "diff sd": diffs.std(ddof=1)}
    row |= {"pairs": 10, "p seeds": 0.08, "p equiv": 0.2}  # neither test decides it
    flags = {}
    for asked in (None, 10, 15):
        table = pd.DataFrame([row])
        table.attrs.update(primary="test/acc", baseline="arm=base", delta=0.01, asked=asked)
        holm_family([table])
        assert table["MDE"][0] < 0.01 and table["verdict"][0] == "inconclusive"
        flags[asked] = (bool(table["underpowered"][0]), seed_rule_line([table]))
        assert "underpowered" not in " ".join(comparison_lines(table, True))  # MDE <= δ
    assert [f[0] for f in flags.values()] == [False, False, True]
    assert "ran on 10 seeds where the pilot asked for 15" in flags[15][1]
    assert flags[None][1] == flags[10][1] == ""
    rows = {asked: overview_row("X.1", "x", True, table_for(row, asked), 0.01) for asked in flags}
    assert "| 1 inconclusive (1 underpowered); all on 10 of the 15 seeds its seed rule" in rows[15]
    assert "| 1 inconclusive |" in rows[None] and "| 1 inconclusive |" in rows[10]


def table_for(row: dict, asked: int | None) -> pd.DataFrame:
    """One comparison's table with its verdicts computed, its pilot having asked for `asked`."""
    table = pd.DataFrame([row])
    table.attrs.update(primary="test/acc", baseline="arm=base", delta=0.01, asked=asked)
    holm_family([table])
    return table


def test_the_seeds_asked_for_are_read_from_each_declared_seed_rule():
    asked = {}
    for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
        claim = yaml.safe_load(path.read_text()).get("claim") or {}
        if "scripts/pilot.py" in str(claim.get("seeds")):  # a pilot was read: its ask is stated
            asked[path.stem] = seeds_asked(claim)
    assert None not in asked.values() and len(asked) >= 8
    assert asked["heads"] == 15 and asked["data_scaling"] == 4 and asked["loss"] == 12
    assert asked["warmup"] == asked["batch_size"] == asked["downsampling"] == 20  # each ran fewer
    assert asked["optimizers"] == 20
    assert seeds_asked({"seeds": "5 (0-4), fixed before the runs"}) is None


def comparison(arm: str, baseline: str, word: str, **more) -> Comparison:
    """One v2 comparison of `arm` with `baseline` on test/acc, decided as `word`."""
    cell = lambda text: tuple(tuple(kv.split("=")) for kv in text.split(","))  # noqa: E731
    values = dict(kind="mean", n_seeds=10, diff=0.01, low=0.002, high=0.018, level=0.05)
    values |= dict(p_holm=0.01, delta=0.01, better="higher") | more
    return Comparison("test/acc", cell(arm), cell(baseline), word=word, **values)


def section_with(comparisons: list[Comparison], declared: bool = True) -> Section:
    """A v2 Section holding `comparisons` as its one family."""
    return Section(
        "x", 2, 2, declared, "test/acc", None, 0.01, ("heads",), (), tuple(comparisons), ()
    )


def test_an_arm_compared_with_two_baselines_keeps_both_words():
    section = section_with(
        [
            comparison("heads=2", "heads=1", "better"),
            comparison("heads=2", "heads=4", "worse", diff=-0.01, low=-0.02, high=-0.001),
        ]
    )
    assert section_words(section) == {
        ("test/acc", "heads=1", "heads=2"): ("better", False, "+0.0100 [+0.0020, +0.0180] (95.0%)"),
        ("test/acc", "heads=4", "heads=2"): ("worse", False, "-0.0100 [-0.0200, -0.0010] (95.0%)"),
    }


def test_the_words_and_the_underpowered_flag_are_the_v2_sections():
    """Underpowered is the Section's declared-in-advance flag (None, no ask: not); the word is
    the rule's, declared or not; a comparison with no paired seeds has no word to replicate."""
    section = section_with(
        [
            comparison("heads=2", "heads=1", "inconclusive", underpowered=True, asked=15),
            comparison("heads=4", "heads=1", "better", underpowered=None),
            comparison("heads=8", "heads=1", "", n_seeds=0),
        ],
        declared=False,
    )
    words = section_words(section)
    assert words[("test/acc", "heads=1", "heads=2")][:2] == ("inconclusive", True)
    assert words[("test/acc", "heads=1", "heads=4")][:2] == ("better", False)
    assert ("test/acc", "heads=1", "heads=8") not in words
    rows, broken = read_against(words, {k: ("worse", False, "") for k in words})
    assert broken == 1 and "the page says underpowered" in rows[0] and "**differs**" in rows[1]


@pytest.mark.slow  # two 3-seed sweeps, 77-113 s on the busy 2 cores; its parts are tested above
def test_replicate_reruns_with_new_seeds_and_reads_each_word_against_the_page(tmp_path):
    from biaslab.study.runner import run_preset

    page = run_preset(
        "optimizers_quick", [*FAST, "hydra.sweeper.params.seed='0,1,2'"], tmp_path / "p"
    )
    command = [sys.executable, "scripts/replicate.py", "optimizers_quick", "--page", str(page)]
    out = tmp_path / "again"
    overlap = subprocess.run(
        [*command, "--out", str(out), "--seeds", "2:5", *FAST],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert overlap.returncode == 2 and "Traceback" not in overlap.stderr
    assert "overlaps the seeds the page used (0-2)" in overlap.stderr and not out.exists()

    done = subprocess.run(
        [*command, "--out", str(out), *FAST], cwd=ROOT, capture_output=True, text=True
    )
    reading = (out / "replication.md").read_text()
    assert reading.strip() in done.stdout
    assert "(seeds 1000-1002)" in reading  # the page's count of seeds, from 1000
    words = {}
    for folder in (page, out / "final"):
        table = pd.read_csv(folder / "report" / "report.csv")
        assert set(table["protocol"]) == {2}  # the v2 report.csv the reading agrees with
        table = table[(table["metric"] == "test/acc") & (table["seeds"] > 0)]
        words[folder] = table.set_index("arm")["word"].to_dict()
    assert list(words[page]) == ["optimizer=adam"]  # the one arm compared with sgd
    row = next(r for r in reading.splitlines() if "| optimizer=adam |" in r)
    assert row.startswith("| `test/acc` against optimizer=sgd | optimizer=adam |")
    assert f"| {words[page]['optimizer=adam']} (" in row  # the word, then its difference
    assert f"| {words[out / 'final']['optimizer=adam']} (" in row
    changed = words[page] != words[out / "final"]
    assert done.returncode == (1 if changed and "**differs**" in row else 0), done.stderr[-2000:]
    check_recorded(tmp_path, command, out, reading, row, done.returncode)


def check_recorded(tmp_path, command: list[str], out, reading: str, row: str, rc: int) -> None:
    """--reread with --record (twice) puts the finished re-run's reading into a doc as its one
    section, keeping others, and the opening table counts it under protocol v2."""
    doc = tmp_path / "replication.md"
    doc.write_text(
        "# Re-runs\n\nintro\n\n## zeta: a re-run with seeds the page never used\n\nkept\n"
    )
    nothing = subprocess.run(
        [*command, "--out", str(tmp_path / "none"), "--reread", *FAST],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert nothing.returncode == 2 and "holds none" in nothing.stderr
    for _ in range(2):  # recording twice replaces the section: one per preset
        reread = ["--reread", "--seeds", "5000:5003"]  # not what ran: the seeds that ran are named
        again = subprocess.run(
            [*command, "--out", str(out), *reread, "--record", str(doc), *FAST],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert again.returncode == rc and not (tmp_path / "none").exists()
    text = doc.read_text()
    assert text.startswith("# Re-runs\n\nintro\n") and text.count("\n## optimizers_quick:") == 1
    assert text.index("## optimizers_quick:") < text.index("## zeta:") and "kept" in text
    assert row in text and "at commit " in text and ", with the statistics at commit " in text
    assert "both read under protocol v2 (the page's runs made under protocol " in reading
    assert "/final (seeds 1000-1002), made by" in text and "5000" not in text
    same, total, excused, broken = COUNTS.search(reading).groups()  # the section's own line
    assert text.count("Read together") == 1  # rewritten, not stacked, on the second record
    assert f"Read together under protocol v2 (presets re-run: 1): {same} of {total} verdict" in text
    picks = PICKED.findall(reading)  # the section's tuning lines: (the page's, ties, the re-run's)
    kept = f"{sum(a == b for a, _, b in picks)} of {len(picks)}" if picks else "not tuned"
    cells = f"| optimizers_quick | v2 | 1000-1002 | {same} of {total} | {excused} | {broken} | "
    cells += f"{kept} |"
    assert cells in text and "tuning picked the page's value in" in text
    assert "| zeta |" not in text  # a section without a closing count is left out


def test_the_summary_counts_each_sections_words_and_tuning_picks():
    """The opening table is counted from each section's own lines: its closing count and its
    tuning lines (a pick the re-run changed is not counted as kept); an untuned preset says so."""
    closing = "{} of {} verdict words the same; {} differ where the page says the comparison is "
    closing += "underpowered; {} differ where it does not."
    tuned = "\n".join(
        [
            "a: a re-run\n\nThe page: p (seeds 0-4); the re-run: f (seeds 1000-1004), made by `x`",
            "- tuning, model-a: the page picked {'optimizer.lr': '0.01'}, the re-run "
            "{'optimizer.lr': '0.01'}",
            "- tuning, model-b: the page picked {'optimizer.lr': '0.01'}, the re-run "
            "{'optimizer.lr': '0.03'}",
            "- tuning, model-c: the page picked {'optimizer.lr': '0.01'} (tied with it there: "
            "0.01, 0.03), the re-run {'optimizer.lr': '0.03'}",
            "- tuning, model-d: the page picked {'optimizer.lr': '0.01'} (tied with it there: "
            "0.003, 0.01), the re-run {'optimizer.lr': '0.03'}",
            "",
            closing.format(2, 3, 1, 0),
        ]
    )
    plain = "b: a re-run\n\n(seeds 1000-1009), made by `y`\n\n" + closing.format(4, 4, 0, 0)
    v2 = "e: a re-run\n\n(seeds 2000-2004), made by `z` 1.0 min; both read under protocol v2 "
    v2 += "(the page's runs made under protocol 1, the re-run's under 2)\n\n"
    v2 += closing.format(1, 3, 1, 1)
    table = summary({"a": tuned, "b": plain, "c": "c: no closing count", "e": v2})
    assert "| a | v1 | 1000-1004 | 2 of 3 | 1 | 0 | 1 of 4 | 2 of 4 |" in table  # c tied, d not
    assert "| b | v1 | 1000-1009 | 4 of 4 | 0 | 0 | not tuned |  |" in table
    assert (
        "| e | v2 | 2000-2004 | 1 of 3 | 1 | 1 | not tuned |  |" in table and "| c |" not in table
    )
    v1_line = "Read together under protocol v1 (presets re-run: 2): 6 of 7 verdict words the same"
    v2_line = "Read together under protocol v2 (presets re-run: 1): 1 of 3 verdict words the same"
    assert table.index(v2_line) < table.index(v1_line)  # never added together; v2 first
    assert "v1 records" in table and "issue 47" in table.split(v1_line)[1].split("\n")[0]
    assert "v1 records" not in table.split(v1_line)[0]
    assert "tuning picked the page's value in 1 of 4 arms, and one the page's tie rule" in table
    assert "could not tell from it in 1 more" in table


def test_the_seed_rule_asks_for_an_mde_as_small_as_the_pilot_differences_distance_from_delta():
    """Near +-delta either word (equivalent, better/worse) is one noise draw away: the target is
    the distance from delta (0 at delta: the cap); far beyond 2 delta, half the difference."""
    from biaslab.analysis.stats import seeds_for, target_mde

    assert target_mde(0.0, 0.01) == 0.01
    assert target_mde(-0.005, 0.01) == pytest.approx(0.005)
    assert target_mde(0.015, 0.01) == pytest.approx(0.005)
    assert target_mde(0.01, 0.01) == 0.0
    assert target_mde(0.05, 0.01) == 0.025
    sd = 0.0073  # loss's paired SD: half delta from delta asks for more seeds than delta does
    assert seeds_for(sd, target_mde(-0.005, 0.01), 4) > seeds_for(sd, target_mde(0.0, 0.01), 4)
