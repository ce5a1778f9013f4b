"""The report's charts: a metric against each factor, per-epoch curves, log-log scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biaslab.analysis.figure import (
    STYLE,
    arm_label,
    facet_keys,
    figure_legend,
    is_full,
    level_key,
    panel_grid,
    save_chart,
    series_style,
)
from biaslab.analysis.load import factors, name_values
from biaslab.analysis.metrics import metric as registry
from biaslab.analysis.scaling import loglog_exponents  # noqa: F401  (its old home)
from biaslab.run.files import RunDir


def _numeric(values) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def numeric_levels(values, full: float | None = None) -> tuple[list[float], float | None] | None:
    """Numeric positions for a factor's levels, nulls (the full set) last: at `full` (its size,
    from `report.full_size`) or one step past the largest level; None when a level is not a
    number. Returns (positions, where the null sits or None)."""
    known = _numeric([v for v in values if not is_full(v)])
    if known is None or not known:
        return None
    top = max(known)
    spot = None
    if any(is_full(v) for v in values):
        spot = float(full) if full is not None else (top * 3 if min(known) > 0 else top + 1)
    return [spot if is_full(v) else float(v) for v in values], spot


def plot_factor(table, factor: str, metric: str, path: Path, full_size: dict | None = None) -> None:
    """Mean and 95 % interval of `metric` against one factor, a series per other arm, its legend
    naming the factors; a panel per level of a further factor when more than `MAX_SERIES`
    series would share one. Numeric factors on a numeric axis in numeric order (log when they
    span 10x or more) joined by lines, the full set (a null level of a key in `full_size`,
    `report.full_size`) last and labelled with its size, on the axis, in the legend and in
    panel titles; categorical arms as points with interval bars, never joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = (full_size or {}).get(factor)
    others = [f for f in factors(table) if f != factor and f in table]
    facet = facet_keys({f: sorted({str(v) for v in table[f]}) for f in others})
    series = [f for f in others if f not in facet]
    levels = numeric_levels(list(table[factor]), full)
    categories = sorted({str(v) for v in table[factor]}, key=level_key)
    panels = _groups(table, facet)
    names = [name for _, g in panels for name, _ in _groups(g, series)]
    names = sorted(set(names), key=names.index)
    labels = [arm_label(n, full_size, shorten=False) for n in names]
    with plt.style.context(STYLE):
        fig, axes = panel_grid(plt, len(panels), width=5.2 if len(panels) == 1 else 3.6)
        handles = {}
        for ax, (title, panel) in zip(axes, panels):
            for name, group in _groups(panel, series):
                k = names.index(name)
                xs, y, err, style = _series_points(group, factor, metric, levels, categories, k)
                if levels is None:  # categorical arms side by side around their level
                    xs = [x + (k - (len(names) - 1) / 2) * 0.08 for x in xs]
                handles[name] = ax.errorbar(xs, y, yerr=err, label=labels[k] or None, **style)
            _factor_axis(ax, factor, levels, categories, full)
            if title:
                ax.set_title(arm_label(title, full_size, shorten=False), fontsize=8)
        axes[0].set_ylabel(f"{registry(metric).label}\nmean, 95 % interval", fontsize=8)
        fig.tight_layout()
        if series:
            figure_legend(fig, [handles[n] for n in names], labels)
        save_chart(
            fig,
            path,
            factor=factor,
            levels=categories,
            axis="categorical" if levels is None else "numeric",
        )
        plt.close(fig)


def _series_points(group, factor: str, metric: str, levels, categories: list[str], k: int):
    """(x, mean, 95 % half-width, errorbar style) of one series: numeric levels in numeric
    order, joined; categorical levels at their category's index, unjoined."""
    y, err = group[f"{metric} mean"], group[f"{metric} ci95"].fillna(0)
    style = {"capsize": 3, **series_style(k)}
    if levels is None:
        style["linestyle"] = "none"
        return [categories.index(str(v)) for v in group[factor]], y, err, style
    xs = np.asarray(numeric_levels(list(group[factor]), levels[1])[0])
    order = np.argsort(xs)
    return xs[order], y.to_numpy()[order], err.to_numpy()[order], style


def _groups(table, keys: list[str]) -> list[tuple[str, object]]:
    """(`k=v, ...` name, rows) per combination of `keys`' levels, in level order."""
    if not keys:
        return [("", table)]
    found = []
    for label, group in table.groupby(keys, dropna=False):
        values = label if isinstance(label, tuple) else (label,)
        found.append((values, ", ".join(f"{k}={v}" for k, v in zip(keys, values)), group))
    found.sort(key=lambda item: [level_key(v) for v in item[0]])
    return [(name, group) for _, name, group in found]


def _factor_axis(ax, factor: str, levels, categories: list[str], full: float | None) -> None:
    """The x axis of `plot_factor`: numeric (log past a decade, the full set named) or named."""
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
    ax.set_xlabel(factor, fontsize=8)


def epoch_axis(ax, x: str = "epoch") -> None:
    """Label an x axis of epoch (or step) indices and tick it at whole ones only (matplotlib's
    default puts ticks at 0.5, 1.5 on a 3-epoch run, epochs that do not exist); steps, four
    digits wide, get half as many ticks so that a narrow panel's labels do not run together."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(x, fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5 if x == "step" else 10))


def plot_curves(frame, metric: str, path: Path, full_size: dict | None = None) -> bool:
    """Per-epoch `metric` (history.csv) per arm, mean over seeds, a panel per level of a factor
    when more than `MAX_SERIES` curves would share one; against the step when every run ends
    at one step count but at different epochs (equal compute: 1,000 steps are 143 epochs of a
    small subset, 2.4 of the whole set); null levels named by `full_size`. False: no history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    arms = factors(frame)
    curves = _histories(frame, metric, arms)
    if not curves:
        return False
    ends = [c.iloc[-1] for c in curves if "step" in c]
    equal_steps = len(ends) == len(curves) and len({e["step"] for e in ends}) == 1
    x = "step" if equal_steps and len({e["epoch"] for e in ends}) > 1 else "epoch"
    data = pd.concat(curves).groupby([*arms, x])[metric].mean().reset_index()
    facet = facet_keys({k: sorted(set(data[k])) for k in arms})
    series = [k for k in arms if k not in facet]
    panels = _groups(data, facet)
    with plt.style.context(STYLE):
        fig, axes = panel_grid(plt, len(panels))
        handles: dict[str, object] = {}
        for ax, (title, panel) in zip(axes, panels):
            for name, g in _groups(panel, series):
                name = arm_label(name, full_size, shorten=False)
                k = len(handles) if name not in handles else list(handles).index(name)
                (handles[name],) = ax.plot(
                    g[x], g[metric], markersize=4, label=name, **series_style(k)
                )
            epoch_axis(ax, x)
            if title:
                ax.set_title(arm_label(title, full_size, shorten=False), fontsize=8)
            if metric.endswith("loss") and (data[metric] > 0).all():
                ax.set_yscale("log")
        axes[0].set_ylabel(f"{metric} (mean over seeds)", fontsize=8)
        fig.tight_layout()
        if series:
            figure_legend(fig, list(handles.values()), list(handles))
        save_chart(fig, path, factor=x, axis="numeric")
        plt.close(fig)
    return True


def _histories(frame, metric: str, arms: list[str]) -> list:
    """Each finished run's history of `metric` (epoch, step where recorded), tagged by arm."""
    import pandas as pd

    curves = []
    for _, r in frame[frame["status"] == "ok"].iterrows():
        path_csv = RunDir(r["run_dir"]).history
        if path_csv.exists():
            h = pd.read_csv(path_csv)
            if metric in h:
                cols = ["epoch", *(["step"] if "step" in h else []), metric]
                curves.append(h[cols].assign(**{k: str(r[k]) for k in arms}))
    return curves


def delta_words(primary: str, delta: float) -> str:
    """ "±δ = 1 ms": δ with the primary's unit from the registry (none for a proportion, whose
    0.01 reads as it is, or for a metric without a unit)."""
    unit = registry(primary).unit
    return f"±δ = {delta:g}" + (f" {unit}" if unit and unit != "proportion" else "")


def plot_forest(
    table, primary: str, delta: float | None, path: Path, full_size: dict | None = None
) -> bool:
    """The lead figure: each arm's paired difference from the baseline on the primary metric
    (mean over seeds, 95 % interval), one row per compared arm, with the ±δ band named in the
    title (a legend above the axes collided with it): a verdict can be seen (outside the band
    and off zero: a difference; inside it: equivalence). A null level of a factor in
    `full_size` (`report.full_size`) is labelled with its size, as the factor charts do. False
    when nothing was compared."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = table[table["diff"].notna()] if "diff" in table else table.iloc[0:0]
    if rows.empty:
        return False
    order = sorted(range(len(rows)), key=lambda i: _arm_key(rows["arm"].iloc[i]))
    rows = rows.iloc[order[::-1]]  # arms in level order (numbers as numbers), the first on top
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.3 * len(rows)))
        ys = np.arange(len(rows))
        if delta:
            ax.axvspan(-delta, delta, color="0.88", zorder=0)
        ax.axvline(0, color="0.4", linewidth=0.8)
        ax.errorbar(rows["diff"], ys, xerr=rows["diff ci95"].fillna(0), fmt="o", capsize=3)
        ax.set_yticks(ys, [arm_label(a, full_size) for a in rows["arm"]], fontsize=7)
        base = arm_label(str(table.attrs.get("baseline")), full_size)
        band = f"; grey band: {delta_words(primary, delta)}" if delta else ""
        ax.set_title(f"{primary}: each arm minus {base}{band}", fontsize=8, loc="right")
        ax.set_xlabel("paired difference (mean over seeds, 95 % interval)", fontsize=8)
        # no 2.5 step: its five-digit labels (-0.0075) ran together across a narrow band
        ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10]))
        fig.tight_layout()
        save_chart(fig, path, factor="difference", axis="value")
        plt.close(fig)
    return True


def _arm_key(arm: str) -> list[tuple]:
    """An arm's levels in order, numbers as numbers (length=32 before length=128)."""
    return [level_key(v) for v in name_values(arm).values()]
