"""The report's charts: a metric against each factor, per-epoch curves, log-log scaling."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from biaslab.analysis.load import factors
from biaslab.run.files import RunDir

DPI = 150
STYLE = "tableau-colorblind10"  # a colour-blind-safe palette
MAX_SERIES = 6  # more curves than this share no panel: one panel per level of a factor


def _numeric(values) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _is_full(value) -> bool:
    """A null level of a numeric factor: `the whole set` (data.train_per_class=null)."""
    return value is None or str(value) in ("null", "None", "nan", "")


def numeric_levels(values, full: float | None = None) -> tuple[list[float], float | None] | None:
    """Numeric positions for a factor's levels, nulls (the full set) last: at `full` (its size,
    from `report.full_size`) or one step past the largest level; None when a level is not a
    number. Returns (positions, where the null sits or None)."""
    known = _numeric([v for v in values if not _is_full(v)])
    if known is None or not known:
        return None
    top = max(known)
    spot = None
    if any(_is_full(v) for v in values):
        spot = float(full) if full is not None else (top * 3 if min(known) > 0 else top + 1)
    return [spot if _is_full(v) else float(v) for v in values], spot


def plot_factor(table, factor: str, metric: str, path: Path, full: float | None = None) -> None:
    """Mean and 95 % interval of `metric` against one factor, a series per other arm, its legend
    naming the factors. Numeric factors on a numeric axis in numeric order (log when they span
    10x or more) joined by lines, the full set (a null level) last, labelled with its size;
    categorical arms as points with interval bars, never joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biaslab.analysis.metrics import metric as registry

    others = [f for f in factors(table) if f != factor and f in table]
    groups = list(table.groupby(others, dropna=False)) if others else [((), table)]
    levels = numeric_levels(list(table[factor]), full)
    categories = sorted({str(v) for v in table[factor]})
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        for k, (label, group) in enumerate(groups):
            values = label if isinstance(label, tuple) else (label,)
            name = ", ".join(f"{k}={v}" for k, v in zip(others, values)) or None
            y, err = group[f"{metric} mean"], group[f"{metric} ci95"].fillna(0)
            if levels is not None:
                xs = np.asarray(numeric_levels(list(group[factor]), levels[1])[0])
                order = np.argsort(xs)
                ax.errorbar(
                    xs[order],
                    y.to_numpy()[order],
                    yerr=err.to_numpy()[order],
                    marker="o",
                    capsize=3,
                    label=name,
                )
            else:
                offset = (k - (len(groups) - 1) / 2) * 0.08
                xs = [categories.index(str(v)) + offset for v in group[factor]]
                ax.errorbar(xs, y, yerr=err, marker="o", linestyle="none", capsize=3, label=name)
        if levels is not None:
            positions = sorted(set(levels[0]))
            if min(positions) > 0 and max(positions) / min(positions) >= 10:
                ax.set_xscale("log")
            ax.set_xticks(
                positions,
                [
                    (f"{x:g} (all)" if full is not None else "all") if x == levels[1] else f"{x:g}"
                    for x in positions
                ],
                fontsize=7,
            )
            ax.minorticks_off()
        else:
            ax.set_xticks(range(len(categories)), categories, rotation=20, fontsize=7)
        ax.set_xlabel(factor)
        ax.set_ylabel(f"{registry(metric).label}\nmean, 95 % interval", fontsize=8)
        if others:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
        plt.close(fig)


def plot_curves(frame, metric: str, path: Path) -> bool:
    """Per-epoch `metric` (history.csv) per arm, mean over seeds; False when no history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    arms = factors(frame)
    curves = []
    for _, r in ok.iterrows():
        path_csv = RunDir(r["run_dir"]).history
        if path_csv.exists():
            h = pd.read_csv(path_csv)
            if metric in h:
                h["arm"] = ",".join(f"{k}={r[k]}" for k in arms) or "all"
                curves.append(h[["epoch", "arm", metric]])
    if not curves:
        return False
    data = pd.concat(curves).groupby(["arm", "epoch"])[metric].mean().reset_index()
    arms_seen = sorted(data["arm"].unique())
    facet = arms[0] if len(arms_seen) > MAX_SERIES and len(arms) > 1 else None
    panels = sorted({a.split(",")[0] for a in arms_seen}, key=_level_order) if facet else [None]
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(
            1, len(panels), figsize=(3.4 * len(panels) + 2.2, 3.6), sharey=True, squeeze=False
        )
        for ax, panel in zip(axes[0], panels):
            for arm in sorted(arms_seen, key=lambda a: [_level_order(p) for p in a.split(",")]):
                g = data[data["arm"] == arm]
                if panel is not None and arm.split(",")[0] != panel:
                    continue
                shown = arm.split(",", 1)[1] if panel is not None else arm
                ax.plot(g["epoch"], g[metric], marker=".", label=shown)
            ax.set_xlabel("epoch")
            if panel is not None:
                ax.set_title(panel, fontsize=8)
            if metric.endswith("loss") and (data[metric] > 0).all():
                ax.set_yscale("log")
        axes[0][0].set_ylabel(f"{metric} (mean over seeds)")
        axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
    return True


def _level_order(level: str) -> tuple:
    """`key=value` panels in numeric order of their values where they are numbers."""
    value = level.split("=", 1)[-1]
    number = None if _is_full(value) else _numeric([value])
    return (0, number[0], "") if number else (1, 0.0, value)


def loglog_exponents(frame, x: str, y: str, path: Path) -> list[str]:
    """`y` against `x` on log-log axes, one line per arm of the other factors (mean over seeds),
    and the fitted exponent (slope of log y on log x over every run, 95 % interval)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats as sps

    ok = frame[(frame["status"] == "ok")].dropna(subset=[y])
    others = [f for f in factors(frame) if f != x]
    lines = []
    plt.style.use(STYLE)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for label, group in ok.groupby(others, dropna=False) if others else [((), ok)]:
        name = ",".join(
            f"{k}={v}" for k, v in zip(others, label if isinstance(label, tuple) else (label,))
        )
        xs, ys = group[x].astype(float).to_numpy(), group[y].astype(float).to_numpy()
        if len(set(xs)) < 2:
            continue
        fit = sps.linregress(np.log(xs), np.log(ys))
        half = sps.t.ppf(0.975, len(xs) - 2) * fit.stderr if len(xs) > 2 else math.nan
        means = group.groupby(x)[y].mean()
        order = np.argsort(means.index.astype(float))
        ax.plot(
            means.index.astype(float)[order],
            means.to_numpy()[order],
            marker="o",
            label=f"{name or 'all'}: slope {fit.slope:.2f}",
        )
        lines.append(
            f"- {name or 'all'}: {y} ∝ {x}^**{fit.slope:.2f}** (95 % interval ± {half:.2f}, "
            f"{len(xs)} runs)"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean over seeds)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return lines


def plot_forest(table, primary: str, delta: float | None, path: Path) -> bool:
    """The lead figure: each arm's paired difference from the baseline on the primary metric
    (mean over seeds, 95 % interval), one row per compared arm, with the ±δ band: a verdict can
    be seen (outside the band and off zero: a difference; inside it: equivalence). False when
    nothing was compared."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table[table["diff"].notna()] if "diff" in table else table.iloc[0:0]
    if rows.empty:
        return False
    rows = rows.iloc[::-1]  # the table's first arm on top
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.3 * len(rows)))
        ys = np.arange(len(rows))
        if delta:
            ax.axvspan(-delta, delta, color="0.88", zorder=0, label=f"±δ = {delta:g}")
        ax.axvline(0, color="0.4", linewidth=0.8)
        ax.errorbar(rows["diff"], ys, xerr=rows["diff ci95"].fillna(0), fmt="o", capsize=3)
        ax.set_yticks(ys, [short_arm(a) for a in rows["arm"]], fontsize=7)
        ax.set_title(
            f"{primary}: each arm minus {short_arm(str(table.attrs.get('baseline')))}",
            fontsize=8,
            loc="right",
        )
        ax.set_xlabel("paired difference (mean over seeds, 95 % interval)", fontsize=8)
        if delta:
            ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
    return True


def short_arm(arm: str) -> str:
    """An arm's label with each key shortened to its last part: model.backbone.kernel_size=5,
    data=board9 -> kernel_size=5, data=board9."""
    return ", ".join(
        f"{k.rsplit('.', 1)[-1]}={v}" if v is not None else k
        for k, _, v in (part.partition("=") for part in re.split(r",(?=[\w.+~/-]+=)", arm))
    )
