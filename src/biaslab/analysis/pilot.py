"""The seed rule: how many seeds a preset's declared comparisons need, from a pilot's runs.

A pilot (earlier runs of the same arms, e.g. the preset's previously published ones) gives the SD
of each comparison's paired differences; the preset then runs the fewest seeds (>= 3) whose MDE,
at 80 % power and the Holm family's size, is <= each declared comparison's target (`target_mde`),
capped at 20.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from biaslab.analysis.derived import add_derived
from biaslab.analysis.load import load_sweep
from biaslab.analysis.stats import mde, seeds_for, target_mde
from biaslab.analysis.tables import holm_family, restrict, summarize


def declared_comparisons(report: dict[str, Any], claim: dict[str, Any] | None) -> list[dict]:
    """The preset's primary comparison (`report:`) and its further ones (`claim.comparisons`)."""
    first = {
        "metric": report.get("primary") or "test/acc",
        "baseline": report.get("baseline"),
        "delta": report.get("delta"),
    }
    more = [
        {
            "metric": c["metric"],
            "baseline": c["baseline"],
            "delta": c.get("delta"),
            "at": c.get("at"),
        }
        for c in (claim or {}).get("comparisons") or []
    ]
    return [c for c in (first, *more) if c["baseline"]]


def seeds_asked(claim: dict[str, Any] | None) -> int | None:
    """The seeds the declaration's pilot asked for (`claim.seeds` says "... asks for N ..."), or
    None where the seed rule read no pilot. A preset whose budget ran fewer is underpowered by
    its own seed rule, whatever MDE its runs happen to show."""
    found = re.search(r"asks\s+for\s+(\d+)", str((claim or {}).get("seeds") or ""))
    return int(found[1]) if found else None


def pilot_rows(
    pilot_dir: Path, report: dict[str, Any], claim: dict[str, Any] | None, cap: int = 20
) -> list[dict[str, Any]]:
    """One row per compared arm of each declared comparison, read on the pilot's runs: its
    pairs, the SD of the paired differences, the MDE at the pilot's seeds and the seeds needed."""
    frame = load_sweep(pilot_dir)
    add_derived(frame, report)
    comparisons = [
        c for c in declared_comparisons(report, claim) if c["metric"] in frame and c["delta"]
    ]
    tables = [
        summarize(
            restrict(frame, c.get("at")),
            primary=c["metric"],
            baseline=c["baseline"],
            delta=c["delta"],
        )
        for c in comparisons
    ]
    holm_family(tables)
    rows = []
    for c, table in zip(comparisons, tables):
        family = table.attrs.get("family", 1)
        for _, r in table.iterrows():
            if r.get("diff") != r.get("diff") or r["diff sd"] != r["diff sd"]:
                continue
            target = target_mde(r["diff"], c["delta"])
            need = seeds_for(r["diff sd"], target, family, cap=cap)
            rows.append(
                {
                    "comparison": f"{c['metric']} vs {c['baseline']} (±{c['delta']:g})",
                    "arm": r["arm"],
                    "pairs": int(r["pairs"]),
                    "diff": float(r["diff"]),
                    "sd": float(r["diff sd"]),
                    "mde": mde(r["diff sd"], int(r["pairs"]), family),
                    "seeds": need,
                    "target": target,
                    "reached": mde(r["diff sd"], need, family) <= target,
                }
            )
    return rows


def seed_rule(rows: list[dict[str, Any]], cap: int = 20) -> int:
    """The seeds for the whole preset: the most any comparison needs (>= 3), capped."""
    return min(cap, max([3, *(r["seeds"] for r in rows)]))


def pilot_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as text, one per compared arm."""
    out = []
    for r in rows:
        out.append(
            f"{r['comparison']}: {r['arm']}: {r['pairs']} pairs, diff {r['diff']:+.4f}, "
            f"SD {r['sd']:.4f}, MDE {r['mde']:.4f} -> {r['seeds']} seeds for MDE <= {r['target']:.4f}"
            + ("" if r["reached"] else " (the cap; MDE still above)")
        )
    return out if out else ["no declared comparison could be read on the pilot's runs"]
