"""The report's table: per arm, mean and interval of each metric; against the baseline arm, the
paired difference, p over seeds and over test examples, Holm's correction, TOST and the verdict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biaslab.analysis.load import factors
from biaslab.analysis.stats import (
    ALPHA,
    accuracy_interval,
    holm,
    mcnemar,
    mean_ci,
    paired_t,
    tost,
    verdict,
)
from biaslab.run.files import RunDir

DEFAULT_METRICS = (
    "test/acc",
    "test_last/acc",
    "test/loss",
    "train_eval/loss",
    "gap/acc",
    "val/acc_best",
    "time/fit_s",
    "time/samples_per_s",
    "time/step_ms",
    "params/total",
)


def _is_accuracy(metric: str) -> bool:
    """A test-set accuracy (a proportion over `test/n` examples)."""
    return metric in ("test/acc", "test_last/acc")


def _correct(run_dir: str) -> np.ndarray | None:
    path = RunDir(run_dir).predictions
    if not path.exists():
        return None
    saved = np.load(path)
    return saved["pred"] == saved["target"]


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
    error, never zero-width); against the baseline arm: the paired difference, p over seeds and
    over test examples (McNemar, where predictions exist), Holm-corrected, an equivalence test
    within ±delta, and the verdict word. `best` marks the top arm only when it beats the
    runner-up significantly (paired over seeds)."""
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    arms = factors(frame)
    metrics = tuple(dict.fromkeys(m for m in (primary, *metrics) if m in ok)) + tuple(
        sorted(c for c in ok if c.startswith("invariance/"))
    )
    higher = "loss" not in primary and not primary.startswith("gap/")  # a smaller gap is better
    n_test = int(ok["test/n"].max()) if "test/n" in ok and ok["test/n"].notna().any() else None
    base = None
    if baseline:
        key, value = baseline.split("=", 1)
        base = ok[ok[key].astype(str) == value]
    groups = list(ok.groupby(arms, sort=True, dropna=False)) if arms else [((), ok)]
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
            diffs, joined = _paired(group, stratum, primary)
            row["diff"], row["diff ci95"] = mean_ci(diffs)[:2]
            row["p seeds"] = paired_t(diffs)
            row["p examples"] = _mcnemar_over_seeds(joined) if primary == "test/acc" else math.nan
            row["p equiv"] = tost(diffs, delta) if delta else math.nan
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs.update(factors=arms, primary=primary, baseline=baseline, delta=delta)
    if "p seeds" in table:
        use_seeds = table["seeds"] >= 3
        table["p"] = table["p seeds"].where(use_seeds, table["p examples"])
        table["p holm"] = holm(table["p"].tolist())
        table["p equiv holm"] = holm(table["p equiv"].tolist())
        table["verdict"] = [
            verdict(r["diff"], r["p holm"], r["p equiv holm"], delta, higher)
            if r["diff"] == r["diff"]
            else ""
            for _, r in table.iterrows()
        ]
    table["best"] = _best_mark(table, groups, primary, higher)
    return table


def _mcnemar_over_seeds(joined) -> float:
    """McNemar over every test example of every seed pair (seed i of the arm vs seed i of the
    baseline), where both runs saved their predictions."""
    pairs = [(_correct(a), _correct(b)) for a, b in zip(joined["run_dir"], joined["run_dir base"])]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None and len(a) == len(b)]
    if not pairs:
        return math.nan
    return mcnemar(np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs]))


def _best_mark(table, groups, primary: str, higher: bool) -> list[str]:
    """'*' on the best arm if it beats the runner-up (paired t over seeds, p < 0.05)."""
    column = f"{primary} mean"
    if len(table) < 2 or column not in table:
        return [""] * len(table)
    order = table[column].sort_values(ascending=not higher).index
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


def to_markdown(table, primary: str = "test/acc") -> str:
    metric_names = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    head = ["arm", "seeds", *metric_names]
    compare = "diff" in table
    if compare:
        head += [
            f"{primary} diff vs {table.attrs.get('baseline')}",
            "p (seeds)",
            "p (examples)",
            "p Holm",
            "verdict",
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
                _fmt_p(r["p examples"]),
                _fmt_p(r["p holm"]),
                r["verdict"],
            ]
        lines.append("| " + " | ".join(cells) + f" | {r['best']} |")
    return "\n".join(lines)
