"""A log-log scaling chart: `y` against `x` per arm of the other factors, and the fitted
exponent of each (the slope of log y on log x over every run, with its 95 % interval)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from biaslab.analysis.figure import STYLE, save_chart, series_style
from biaslab.analysis.load import factors


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
    fig, ax = plt.subplots(figsize=(7.4, 3.8))
    groups = ok.groupby(others, dropna=False) if others else [((), ok)]
    for i, (label, group) in enumerate(groups):
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
            **series_style(i),
            label=f"{name or 'all'}: slope {fit.slope:.2f}",
        )
        lines.append(
            f"- {name or 'all'}: {y} ∝ {x}^**{fit.slope:.2f}** (95 % interval ± {half:.2f}, "
            f"{len(xs)} runs)"
        )
    ax.set_xscale("log")
    levels = sorted(ok[x].astype(float).unique())
    ax.set_xticks(levels, [f"{v:g}" for v in levels])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean over seeds)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save_chart(fig, path, factor=x, axis="numeric")
    plt.close(fig)
    return lines
