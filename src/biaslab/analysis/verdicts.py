"""The page's computed sentences: verdict lines per comparison, A.3's spectrum lines, and the
opening table's rows. Words come from the statistics (`biaslab.analysis.stats`), never typed."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from biaslab.analysis.stats import ALPHA, mde, seeds_for, target_mde
from biaslab.analysis.tables import reading, short_of_target


def critical_lines(folder: Path, decided: bool) -> list[str]:
    """A.3: per arm, is the minimum ratio over the curved eigenvalues below 1 (the upper 95 %
    bound < 1)? How many points were certified critical (|g| / |lambda_min| <= the probe's
    tolerance), and the ratio with the flat directions counted in. Older runs without the
    curved ratio are read over all eigenvalues."""
    table = pd.read_csv(folder / "report" / "arms.csv")
    key = next(
        (k for k in ("critical/min_ratio_curved", "critical/min_ratio") if f"{k} mean" in table),
        None,
    )
    if key is None:
        return []
    out = []
    for _, r in table.iterrows():
        mean, half = r[f"{key} mean"], r[f"{key} ci95"]
        neg = r["critical/negative_ratio mean"]
        word = (
            "below 1"
            if mean + half < 1
            else ("1 (a minimum)" if mean - half >= 1 else "inconclusive")
        )
        said = f"**{word}** " if decided else ""
        what = "over the curved eigenvalues" if key.endswith("curved") else "over all eigenvalues"
        line = (
            f"- {r['arm']}: minimum ratio {what} {said}({mean:.3f} ± {half:.3f}); negative "
            f"eigenvalues {neg:.3f} of the spectrum ({'a saddle' if neg > 0 else 'none'}), "
            f"gradient norm {r['critical/grad_norm_0 mean']:.3g} → "
            f"{r['critical/grad_norm mean']:.3g}, loss {r['critical/loss mean']:.3f}"
        )
        if "critical/certified mean" in r:
            line += (
                f"; certified critical (|g| / |λmin| ≤ tolerance) in "
                f"{round(r['critical/certified mean'] * r['seeds'])} of {r['seeds']} seeds "
                f"(|g| / |λmin| {r['critical/certificate mean']:.3g} on average); with the "
                f"flat directions counted as not positive the ratio is "
                f"{r['critical/min_ratio mean']:.3f} (flat share {r['critical/flat_ratio mean']:.3f})"
            )
        out.append(line)
    return out


def comparison_lines(table, decided: bool) -> list[str]:
    """One line per compared arm: the verdict word (declared comparisons only), the difference
    and its interval, Holm's p and the MDE; a comparison whose MDE exceeds what the seed rule
    asks of its difference (`tables.short_of_target`) is called underpowered, with the seeds a
    re-run would need (from this SD); an `equivalent` one the t-test also detects is said to be
    nonzero, but inside ±δ."""
    out = []
    for _, r in table.iterrows():
        if r.get("diff") != r.get("diff"):
            continue
        numbers = (
            f"difference {r['diff']:+.4f} ± {r['diff ci95']:.4f}, Holm p = {r['p holm']:.3g}, "
            f"MDE {r['MDE']:.4f}"
        )
        found = r["p holm"] == r["p holm"] and r["p holm"] < ALPHA
        delta, family = table.attrs.get("delta"), table.attrs.get("family", 1)
        if short_of_target(r, delta):
            target = target_mde(r["diff"], delta)
            need = seeds_for(r["diff sd"], target, family)
            reach = (
                f"{need} seeds would reach it"
                if mde(r["diff sd"], need, family) <= target
                else "not even 20 seeds would reach it"
            )
            numbers += (
                f"; underpowered: MDE > {target:.4f}, what the seed rule asks of a difference "
                f"this size (δ = {delta:g}), {reach}"
            )
        if found and str(r["verdict"]).startswith("equivalent"):
            numbers += "; nonzero, but inside ±δ"
        if decided:
            out.append(f"- {r['arm']}: **{r['verdict']}** ({numbers})")
        else:
            out.append(f"- {r['arm']}: {numbers}")
    return out


def below_seed_rule(tables: list) -> tuple[int, int] | None:
    """(seeds ran, seeds asked) where a section's comparisons ran on fewer seeds than its declared
    seed rule's pilot asked for (`attrs["asked"]`, a budget cap), else None."""
    asked = tables[0].attrs.get("asked") if tables else None
    pairs = [int(p) for t in tables if "pairs" in t for p in t["pairs"].dropna()]
    if not asked or not pairs or min(pairs) >= asked:
        return None
    return min(pairs), asked


def seed_rule_line(tables: list) -> str:
    """One line saying all of a section's comparisons are underpowered where they ran below
    their seed rule's ask (`below_seed_rule`), else ""."""
    short = below_seed_rule(tables)
    if short is None:
        return ""
    return (
        f"- *Underpowered by the seed rule*: these comparisons ran on {short[0]} seeds where "
        f"the pilot asked for {short[1]} (the preset's budget held no more; its YAML says so), so "
        "each of them is underpowered and a re-run with other seeds may give other words."
    )


def provenance_line(report: str) -> str:
    """`commit …, wall time …` from a report's header lines."""
    commit = re.search(r"- commit: ([0-9a-f]{7})", report)
    wall = re.search(r"- wall time: (\d+) s", report)
    return ", ".join(
        x
        for x in (
            f"commit {commit[1]}" if commit else "",
            f"{int(wall[1]) / 60:.0f} min" if wall else "",
        )
        if x
    )


def overview_row(claim_id: str, name: str, decided: bool, table, delta, stance: str = "") -> str:
    """One line of the page's opening table: the verdict words counted, the inconclusive ones'
    underpowered count beside them and a budget below the seed rule said (declared sections), or
    the Holm-significant differences (exploratory); the largest difference ± interval; and the
    stance on the lecture (`stance`: the section's discussion, its first sentence)."""
    compared = table[table["diff"].notna()] if "diff" in table else table.iloc[0:0]
    if compared.empty:
        words, largest = "(no baseline comparison)", ""
    else:
        if decided:
            counts = compared["verdict"].value_counts()
            under = int((compared["verdict"].eq("inconclusive") & compared["underpowered"]).sum())
            words = "; ".join(
                f"{n} {w}" + (f" ({under} underpowered)" if w == "inconclusive" and under else "")
                for w, n in counts.items()
            )
            short = below_seed_rule([table])  # a budget below the seed rule: all underpowered
            if short is not None:
                words += f"; all on {short[0]} of the {short[1]} seeds its seed rule asks for"
        else:
            signs = [reading(r) for _, r in compared.iterrows()]
            words = f"{signs.count('+')} higher, {signs.count('−')} lower, {signs.count('·')} no clear difference"
        top = compared.loc[compared["diff"].abs().idxmax()]
        largest = f"{top['arm']}: {top['diff']:+.3f} ± {top['diff ci95']:.3f}"
    status = "declared" if decided else "exploratory"
    return (
        f"| {claim_id} | [`{name}`](#{anchor(claim_id, name)}) | {status} | {words} | {largest} "
        f"| {stance} |"
    )


def section_row(claim_id: str, name: str, section, stance: str = "") -> str:
    """One line of the page's opening table from a v2 `Section`: its family's words counted
    (`render.word_counts`), the largest difference on the primary with its deciding interval,
    and the stance (the discussion's first sentence)."""
    from biaslab.study import render

    primary = section.of_metric(section.primary)
    largest = ""
    if primary:
        top = max(primary, key=lambda c: abs(c.diff))
        largest = f"{top.arm_name}: {top.diff:+.3f} {render.interval(top)}"
    status = "declared" if section.declared else "exploratory"
    return (
        f"| {claim_id} | [`{name}`](#{anchor(claim_id, name)}) | {status} | "
        f"{render.word_counts(section)} | {largest} | {stance} |"
    )


def first_sentence(text: str) -> str:
    """A discussion's opening sentence (to its first full stop or colon; `et al.` is no stop)."""
    found = re.search(r"(?<!\bal)[.:](\s|$)", text)
    return (text[: found.start()] if found else text).strip()


def anchor(claim_id: str, name: str) -> str:
    """GitHub's anchor for the heading `## {claim_id} — `{name}``."""
    text = f"{claim_id} — {name}".lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
