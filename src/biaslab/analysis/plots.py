"""The report's charts: a metric against each factor, per-epoch curves, log-log scaling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from biaslab.analysis.load import factors
from biaslab.run.files import RunDir


def _numeric(values) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def plot_factor(table, factor: str, metric: str, path: Path) -> None:
    """Mean and 95 % interval of `metric` against one factor, a series per other arm. Numeric
    factors on a numeric axis in numeric order (log when they span 10x or more) joined by
    lines; categorical arms as points with interval bars, never joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [f for f in factors(table) if f != factor and f in table]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    groups = list(table.groupby(others, dropna=False)) if others else [((), table)]
    numeric = _numeric(table[factor])
    categories = sorted({str(v) for v in table[factor]})
    for k, (label, group) in enumerate(groups):
        values = label if isinstance(label, tuple) else (label,)
        name = ", ".join(f"{k}={v}" for k, v in zip(others, values)) or None  # names its factor
        y, err = group[f"{metric} mean"], group[f"{metric} ci95"].fillna(0)
        if numeric is not None:
            order = np.argsort(_numeric(group[factor]))
            xs = np.asarray(_numeric(group[factor]))[order]
            ax.errorbar(
                xs,
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
    if numeric is not None and min(numeric) > 0 and max(numeric) / min(numeric) >= 10:
        ax.set_xscale("log")
    if numeric is None:
        ax.set_xticks(range(len(categories)), categories, rotation=20, fontsize=7)
    ax.set_xlabel(factor)
    ax.set_ylabel(f"{metric} (mean, 95% interval)")
    if others:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
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
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for arm, g in data.groupby("arm"):
        ax.plot(g["epoch"], g[metric], marker=".", label=arm)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (mean over seeds)")
    if metric.endswith("loss") and (data[metric] > 0).all():
        ax.set_yscale("log")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


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
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
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
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return lines
