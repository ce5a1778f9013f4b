"""The report's table: per arm, mean and interval of each metric; against the baseline arm, the
paired difference, p over seeds and over test examples, Holm's correction, TOST and the verdict."""

from __future__ import annotations

import math
from typing import Any

from biaslab.analysis.figure import level_key
from biaslab.analysis.load import factors, name_values
from biaslab.analysis.metrics import DEFAULT_METRICS, metric
from biaslab.analysis.stats import (
    ALPHA,
    accuracy_interval,
    holm,
    mde,
    mean_ci,
    paired_t,
    target_mde,
    tost,
    verdict,
)


def _is_accuracy(metric: str) -> bool:
    """A test-set accuracy (a proportion over `test/n` examples)."""
    return metric in ("test/acc", "test_last/acc")


def _paired(group, base, metric: str):
    """Per-seed differences (arm - baseline) on `metric`, and both arms' rows, seed-aligned."""
    joined = group.set_index("seed").join(base.set_index("seed"), rsuffix=" base", how="inner")
    return joined[metric] - joined[f"{metric} base"], joined


def summarize(
    frame,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    primary: str = "test/acc",
    baseline: str | None = None,
    delta: float | None = None,
):
    """Per arm: mean and 95 % interval of each metric (accuracy: seeds + the test set's binomial
    error, never zero-width); against the baseline arm: the paired difference over seeds, its
    paired t-test (3 seeds or more), an equivalence test within ±delta, Holm-corrected over the
    table's comparisons (`holm_family` corrects several tables as one family), the minimum
    detectable effect and the verdict word, its direction from the metric registry. Test
    examples are not treated as independent: seeds are the unit. `best` marks the top arm only
    when it beats the runner-up significantly (paired over seeds)."""
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    arms = factors(frame)
    metrics = tuple(dict.fromkeys(m for m in (primary, *metrics) if m in ok)) + tuple(
        sorted(c for c in ok if c.startswith("invariance/"))
    )
    better = metric(primary).better
    n_test = int(ok["test/n"].max()) if "test/n" in ok and ok["test/n"].notna().any() else None
    base = None
    if baseline:
        key, value = baseline.split("=", 1)
        base = ok[ok[key].astype(str) == value]
    groups = list(ok.groupby(arms, sort=True, dropna=False)) if arms else [((), ok)]
    groups.sort(
        key=lambda g: [level_key(v) for v in (g[0] if isinstance(g[0], tuple) else (g[0],))]
    )
    out = []
    for arm_values, group in groups:
        arm_values = arm_values if isinstance(arm_values, tuple) else (arm_values,)
        row: dict[str, Any] = {
            "arm": ",".join(f"{k}={v}" for k, v in zip(arms, arm_values)),
            "seeds": len(group),
            **dict(zip(arms, arm_values)),
        }
        for m in metrics:
            values = group[m].dropna()
            if _is_accuracy(m) and n_test and len(values):
                mean, half = accuracy_interval(values.tolist(), n_test)
            else:
                mean, half, _ = mean_ci(values)
            row[f"{m} mean"], row[f"{m} ci95"] = mean, half
        stratum = base
        if base is not None:  # the baseline arm with this arm's values of the other factors
            for f, v in zip(arms, arm_values):
                if f != baseline.split("=", 1)[0]:
                    stratum = stratum[stratum[f].astype(str) == str(v)]
        if stratum is not None and len(stratum) and not group.index.equals(stratum.index):
            diffs, _ = _paired(group, stratum, primary)
            row["diff"], row["diff ci95"] = mean_ci(diffs)[:2]
            row["diff sd"] = float(diffs.std(ddof=1)) if len(diffs) > 1 else math.nan
            row["pairs"] = len(diffs)
            row["p seeds"] = paired_t(diffs) if len(diffs) >= 3 else math.nan
            row["p equiv"] = tost(diffs, delta) if delta and len(diffs) >= 3 else math.nan
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs.update(factors=arms, primary=primary, baseline=baseline, delta=delta)
    if "p seeds" in table:
        holm_family([table])
    table["best"] = _best_mark(table, groups, primary, better)
    return table


def restrict(frame, at: dict[str, Any] | None):
    """The runs at a declared comparison's fixed settings (`at: {key: value}`), those keys no
    longer arms: attn_vs_rnn compares accuracy at all threads only, since its 1-thread runs
    repeat the same training and would count each pair twice in Holm's family."""
    if not at:
        return frame
    missing = sorted(set(at) - set(factors(frame)))
    if missing:
        raise ValueError(f"a comparison's `at` names {missing}, not swept keys of these runs")
    keep = frame.index == frame.index
    for key, value in at.items():
        keep &= frame[key].astype(str) == str(value)
    out = frame[keep].copy()
    out.attrs = {**frame.attrs, "factors": [f for f in factors(frame) if f not in at]}
    return out


def drop_repeated_pairs(tables: list) -> None:
    """A pair of arms compared on one metric counts once in a section's family: in each later
    table, a row whose pair (the arm and its matched baseline arm) an earlier table on the same
    metric already holds loses its test, in place; its arms go to `attrs["repeated"]`."""
    seen: set = set()
    for t in tables:
        if "diff" not in t:
            continue
        base = name_values(str(t.attrs.get("baseline") or ""))
        repeated = []
        for i, r in t.iterrows():
            if r["diff"] != r["diff"]:
                continue
            arm = name_values(str(r["arm"]))
            pair = (
                t.attrs["primary"],
                frozenset(map(frozenset, (arm.items(), (arm | base).items()))),
            )
            if pair in seen:
                t.loc[i, ["diff", "diff ci95", "p seeds", "p equiv"]] = math.nan
                repeated.append(str(r["arm"]))
            seen.add(pair)
        t.attrs["repeated"] = repeated


def short_of_target(row: Any, delta: float | None) -> bool:
    """A comparison the page calls underpowered by its MDE: the MDE exceeds what the seed rule
    asks of a difference this size (`stats.target_mde`: δ, or the difference's distance from
    ±δ where that is smaller, or half the difference beyond 2δ). Its word can then change on a
    re-run: found or not, equivalent or not."""
    if not delta or row["diff"] != row["diff"] or row["MDE"] != row["MDE"]:
        return False
    return bool(row["MDE"] > target_mde(row["diff"], delta))


def holm_family(tables: list) -> None:
    """Correct every comparison of `tables` as one family (a section's primary comparison and
    its further ones), in place: Holm's p, the MDE at that family size, the verdict, and
    `underpowered`: `short_of_target`, or fewer seeds ran than the pilot asked for
    (`attrs["asked"]`, from the declared seed rule): what the page says
    (`verdicts.comparison_lines`, `verdicts.seed_rule_line`)."""
    compared = [t for t in tables if "p seeds" in t]
    m = int(sum(t["diff"].notna().sum() for t in compared))
    p_all = [p for t in compared for p in t["p seeds"].tolist()]
    eq_all = [p for t in compared for p in t["p equiv"].tolist()]
    p_holm, eq_holm = holm(p_all), holm(eq_all)
    start = 0
    for t in compared:
        end = start + len(t)
        t["p holm"], t["p equiv holm"] = p_holm[start:end], eq_holm[start:end]
        start = end
        better, delta = metric(t.attrs["primary"]).better, t.attrs.get("delta")
        t["MDE"] = [
            mde(r["diff sd"], int(r["pairs"]), m) if r["diff"] == r["diff"] else math.nan
            for _, r in t.iterrows()
        ]
        t["verdict"] = [
            verdict(r["diff"], r["p holm"], r["p equiv holm"], delta, better)
            if r["diff"] == r["diff"]
            else ""
            for _, r in t.iterrows()
        ]
        asked = t.attrs.get("asked")
        t["underpowered"] = [
            short_of_target(r, delta)
            or (bool(asked) and r["diff"] == r["diff"] and int(r["pairs"]) < asked)
            for _, r in t.iterrows()
        ]
        t.attrs["family"] = m


def _best_mark(table, groups, primary: str, better: str | None) -> list[str]:
    """'*' on the best arm if it beats the runner-up (paired t over seeds, p < 0.05); none for
    a metric without a better direction."""
    column = f"{primary} mean"
    if len(table) < 2 or column not in table or better is None:
        return [""] * len(table)
    order = table[column].sort_values(ascending=better == "lower").index
    best, runner_up = order[0], order[1]
    diffs, _ = _paired(groups[best][1], groups[runner_up][1], primary)
    p = paired_t(diffs)
    table.attrs["best_vs_runner_up_p"] = p
    return ["*" if i == best and p == p and p < ALPHA else "" for i in table.index]


def _fmt(mean: float, half: float) -> str:
    if mean != mean:
        return ""
    if abs(mean) >= 1000:
        return f"{mean:,.0f}" + (f" ± {half:,.0f}" if half == half else "")
    return f"{mean:.4f}" + (f" ± {half:.4f}" if half == half else "")


def _fmt_p(p: float) -> str:
    return "" if p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def to_markdown(table, primary: str = "test/acc", declared: bool = True) -> str:
    """The wide table. Verdict words only for a declared comparison; otherwise the column says
    `exploratory` and holds the direction-free reading (`+`, `−` or `·` by Holm's p)."""
    metric_names = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    head = ["arm", "seeds", *metric_names]
    compare = "diff" in table
    if compare:
        head += [
            f"{primary} diff vs {table.attrs.get('baseline')}",
            "p (seeds)",
            "p Holm",
            "MDE",
            "verdict" if declared else "exploratory",
        ]
    lines = ["| " + " | ".join(head) + " | best |", "|" + "---|" * (len(head) + 1)]
    for _, r in table.iterrows():
        cells = [str(r["arm"]), str(r["seeds"])]
        cells += [
            "{:,.0f}".format(r[f"{m} mean"])
            if m == "params/total"
            else _fmt(r[f"{m} mean"], r[f"{m} ci95"])
            for m in metric_names
        ]
        if compare:
            is_base = r["diff"] != r["diff"]
            cells += [
                "(baseline)" if is_base else _fmt(r["diff"], r["diff ci95"]),
                _fmt_p(r["p seeds"]),
                _fmt_p(r["p holm"]),
                "" if is_base else _fmt(r["MDE"], math.nan),
                (r["verdict"] if declared else reading(r)) if not is_base else "",
            ]
        lines.append("| " + " | ".join(cells) + f" | {r['best']} |")
    return "\n".join(lines)


def narrow_markdown(table, primary: str, declared: bool = True) -> str:
    """The page's table: arm, seeds, the primary metric and, against the baseline, the paired
    difference, the MDE and the verdict (declared) or the direction-free reading."""
    head = ["arm", "seeds", primary]
    compare = "diff" in table
    if compare:
        head += ["difference", "MDE", "verdict" if declared else "exploratory"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r["arm"]), str(r["seeds"]), _fmt(r[f"{primary} mean"], r[f"{primary} ci95"])]
        if compare:
            base = r["diff"] != r["diff"]
            cells += [
                "(baseline)" if base else _fmt(r["diff"], r["diff ci95"]),
                "" if base else _fmt(r["MDE"], math.nan),
                "" if base else (r["verdict"] if declared else reading(r)),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reading(row) -> str:
    """An exploratory comparison's sign, without a verdict word: `+`/`−` when Holm's p < ALPHA,
    `·` otherwise."""
    if row["p holm"] != row["p holm"] or row["p holm"] >= ALPHA:
        return "·"
    return "+" if row["diff"] > 0 else "−"
