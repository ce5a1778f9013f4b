"""A `Section`'s values as CSV: report.csv, one row per comparison of the section's family (its
difference, the interval that decided its word and that interval's level, every p, the word),
and arms.csv, one row per arm (mean and 95 % half-width of each metric). The values as they
are, for a reader's own check (`docs/protocol.md` says how each was decided)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biaslab.study.section import Section

COLUMNS = (
    "protocol",
    "metric",
    "arm",
    "baseline",
    "kind",
    "seeds",
    "diff",
    "low",
    "high",
    "level",
    "p holm",
    "p signflip",
    "p t",
    "p barnard",
    "p fisher",
    "delta",
    "word",
    "declared",
    "too few seeds",
    "underpowered",
    "seeds asked",
    "resampled",
)  # fmt: skip  (report.csv's header, written even when nothing was compared)


def comparison_rows(section: Section) -> list[dict[str, Any]]:
    """One dict per comparison, in the family's order."""
    return [
        {
            "protocol": section.protocol,
            "metric": c.metric,
            "arm": c.arm_name,
            "baseline": c.baseline_name,
            "kind": c.kind,
            "seeds": c.n_seeds,
            "diff": c.diff,
            "low": c.low,
            "high": c.high,
            "level": c.level,
            "p holm": c.p_holm,
            "p signflip": c.p_signflip,
            "p t": c.p_t,
            "p barnard": c.p_barnard,
            "p fisher": c.p_fisher,
            "delta": c.delta,
            "word": c.word,
            "declared": section.declared,
            "too few seeds": c.too_few,
            "underpowered": c.underpowered,
            "seeds asked": c.asked,
            "resampled": c.source,
        }
        for c in section.comparisons
    ]


def arm_rows(section: Section) -> list[dict[str, Any]]:
    """One dict per arm: its factors' values, seeds, and `<metric> mean` / `<metric> ci95`."""
    rows = []
    for a in section.arms:
        row: dict[str, Any] = {"arm": a.name, "seeds": a.seeds, **dict(a.arm)}
        for m in section.metrics:
            row[f"{m} mean"], row[f"{m} ci95"] = a.means.get(m), a.halves.get(m)
        rows.append(row)
    return rows


def write_tables(section: Section, out: Path) -> None:
    """report.csv and arms.csv in `out`."""
    import pandas as pd

    rows = comparison_rows(section)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(out / "report.csv", index=False)
    pd.DataFrame(arm_rows(section)).to_csv(out / "arms.csv", index=False)
