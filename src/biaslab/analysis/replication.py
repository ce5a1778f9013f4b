"""A section's verdicts as data, read from a preset's runs: its comparison tables (one Holm
family), its verdict words, the declaration and seeds its runs were made under. The re-run
against a page is `biaslab.study.replication` (it starts processes; this module does not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from biaslab.analysis.derived import add_derived
from biaslab.analysis.load import load_sweep, sweep_settings
from biaslab.analysis.pilot import seeds_asked
from biaslab.analysis.tables import drop_repeated_pairs, holm_family, restrict, summarize
from biaslab.run.files import find_runs


def runs_claim(folder: Path) -> Any:
    """The declaration the runs were made under (`claim:` in their configs), or None."""
    claims = {json.dumps(r.read_config().get("claim"), sort_keys=True) for r in find_runs(folder)}
    return json.loads(claims.pop()) if len(claims) == 1 else None


def section_tables(
    runs: Path,
    report_csv: Path,
    ran: dict[str, Any],
    comparisons: list[dict[str, Any]],
    asked: int | None = None,
) -> list[pd.DataFrame]:
    """The section's comparison tables: the report's primary one (`report_csv`), then one per
    further declared comparison; a pair of arms tested once, and one Holm family over all
    (`asked`: the seeds the declared seed rule's pilot asked for, see `pilot.seeds_asked`)."""
    frame = load_sweep(runs)
    add_derived(frame, ran)
    tables = [pd.read_csv(report_csv)]
    tables[0].attrs.update(
        primary=ran.get("primary") or "test/acc",
        delta=ran.get("delta"),
        baseline=ran.get("baseline"),
    )
    for extra in comparisons:
        tables.append(
            summarize(
                restrict(frame, extra.get("at")),
                primary=extra["metric"],
                baseline=extra["baseline"],
                delta=extra["delta"],
            )
        )
    for table in tables:
        table.attrs["asked"] = asked
    if "p seeds" in tables[0]:
        drop_repeated_pairs(tables)
        holm_family(tables)
    return tables


def verdict_words(tables: list[pd.DataFrame]) -> dict[tuple[str, str, str], tuple]:
    """(metric, baseline, arm) -> (verdict word, underpowered?, the difference ± its 95 %
    interval) for every tested comparison (an arm may be compared with two baselines)."""
    words = {}
    for table in tables:
        if "verdict" not in table:
            continue
        for _, r in table.iterrows():
            if r["diff"] == r["diff"] and r["p holm"] == r["p holm"]:
                words[(table.attrs["primary"], str(table.attrs["baseline"]), str(r["arm"]))] = (
                    str(r["verdict"]),
                    bool(r["underpowered"]),
                    f"{r['diff']:+.4f} ± {r['diff ci95']:.4f}",
                )
    return words


def seeds_of(runs: Path) -> list[int]:
    """The seeds a preset's run folders ran, sorted (read from their configs)."""
    return sorted({int(r.read_config()["seed"]) for r in find_runs(runs)})


def words_of(runs: Path, report_csv: Path, claim: dict[str, Any]) -> dict:
    """The verdict words of a preset's runs (its report's table and its declared comparisons)."""
    tables = section_tables(
        runs, report_csv, sweep_settings(runs), claim.get("comparisons") or [], seeds_asked(claim)
    )
    return verdict_words(tables)
