"""A section's verdicts as data for a replication, read from a preset's runs under protocol v2:
per comparison of its one Holm family the word, the underpowered-before-the-run flag and the
difference with the interval that decided the word (`biaslab.analysis.report.section_of`). The
re-run against a page is `biaslab.study.replication` (it starts processes; this module does
not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from biaslab.analysis.report import section_of
from biaslab.run.files import find_runs
from biaslab.study.render import interval
from biaslab.study.section import Comparison, Section

Key = tuple[str, str, str]  # (metric, baseline arm, arm)


def runs_claim(folder: Path) -> Any:
    """The declaration the runs were made under (`claim:` in their configs), or None."""
    claims = {json.dumps(r.read_config().get("claim"), sort_keys=True) for r in find_runs(folder)}
    return json.loads(claims.pop()) if len(claims) == 1 else None


def difference(c: Comparison) -> str:
    """The difference and the interval that decided the word (a count: its exact test)."""
    return f"{c.diff:+.4f} {interval(c)}"


def section_words(section: Section) -> dict[Key, tuple[str, bool, str]]:
    """(metric, baseline, arm) -> (word, underpowered before the run?, the difference and its
    deciding interval) for every comparison of the section's family that ran on paired seeds
    (an arm may be compared with two baselines). The word is the rule's, as report.csv holds
    it, whether or not the runs carry the declaration (the page then prints it as exploratory). Underpowered is the v2 Section's flag: fewer
    seeds than the declared seed rule asked for before the run (no ask declared: not)."""
    return {
        (c.metric, c.baseline_name, c.arm_name): (
            c.word,
            bool(c.underpowered),
            difference(c),
        )
        for c in section.comparisons
        if c.n_seeds > 0 and c.word
    }


def seeds_of(runs: Path) -> list[int]:
    """The seeds a preset's run folders ran, sorted (read from their configs)."""
    return sorted({int(r.read_config()["seed"]) for r in find_runs(runs)})


def words_of(runs: Path, name: str) -> tuple[dict[Key, tuple[str, bool, str]], Section]:
    """The verdict words of preset `name`'s runs under `runs` (read and decided under protocol
    v2, as its report is), and the Section they come from (its protocol, `made_under`)."""
    section = section_of(runs, name)[0]
    return section_words(section), section
