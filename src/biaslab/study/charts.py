"""A `Section`'s charts: the forest plot, which shows each decision (per-seed dots, the interval
the word was decided by, the ±δ band, the word and which side is better), and per-arm charts in
declared order with the baseline marked and paired intervals where the arm is compared. They
draw the values; they compute no statistic. Artists carry gids a test can find."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from biaslab.analysis.figure import STYLE, arm_label, save_chart
from biaslab.analysis.metrics import metric as registry
from biaslab.analysis.plots import delta_words
from biaslab.study.section import Comparison, Section

BAND, INTERVAL, WORD, SEEDS = "delta-band", "interval", "word", "seeds"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _better_side(ax, metric: str) -> None:
    """Say under the axis which side of zero is better (no direction: higher/lower)."""
    better = registry(metric).better
    words = {"higher": "← worse | better →", "lower": "← better | worse →"}
    ax.set_xlabel(words.get(better, "← lower | higher →"), fontsize=7, color="0.3")


def _forest_row(ax, y: float, c: Comparison) -> None:
    """One comparison: its per-seed differences as dots, the deciding interval as a bar, the
    difference as a marker and the word at the right edge."""
    ax.scatter(c.per_seed, [y + 0.18] * len(c.per_seed), s=6, color="0.55", zorder=2, gid=SEEDS)
    if c.low == c.low:
        (line,) = ax.plot([c.low, c.high], [y, y], color="#0072B2", linewidth=2.2, zorder=3)
        line.set_gid(f"{INTERVAL}:{c.metric}:{c.arm_name}")
    ax.plot([c.diff], [y], "o", color="#0072B2" if c.low == c.low else "#D55E00", zorder=4)
    text = ax.annotate(c.word, (1.01, y), xycoords=("axes fraction", "data"), fontsize=7,
                       va="center", ha="left")  # fmt: skip
    text.set_gid(f"{WORD}:{c.metric}:{c.arm_name}")


def _forest_panel(ax, rows: list[Comparison], full_size: dict | None) -> None:
    """A metric's comparisons, the first on top, with its ±δ band and zero line."""
    first = rows[0]
    if first.delta:
        band = ax.axvspan(-first.delta, first.delta, color="0.88", zorder=0)
        band.set_gid(BAND)
    ax.axvline(0, color="0.4", linewidth=0.8, zorder=1)
    ys = list(range(len(rows)))[::-1]
    for y, c in zip(ys, rows):
        _forest_row(ax, y, c)
    ax.set_yticks(ys, [arm_label(c.arm_name, full_size) for c in rows], fontsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))  # no crowded labels
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    band = (
        f"; grey band {delta_words(first.metric, first.delta)}"
        if first.delta
        else "; no δ declared"
    )
    ax.set_title(f"{first.metric}: arm − {arm_label(first.baseline_name, full_size)}\n{band[2:]}",
                 fontsize=8, loc="left")  # fmt: skip
    _better_side(ax, first.metric)


def forest_figure(section: Section, full_size: dict | None = None):
    """The forest plot's figure (a panel per compared metric), or None with no comparison."""
    plt = _pyplot()
    groups: dict[tuple, list[Comparison]] = {}
    for c in section.comparisons:
        groups.setdefault((c.metric, c.baseline), []).append(c)
    if not groups:
        return None
    heights = [1.2 + 0.32 * len(rows) for rows in groups.values()]
    longest = max(len(arm_label(c.arm_name, full_size)) for c in section.comparisons)
    width = max(7.4, 4.6 + 0.06 * longest)
    with plt.style.context(STYLE):
        fig, axes = plt.subplots(len(groups), 1, figsize=(width, sum(heights) + 0.6),
                                 squeeze=False, gridspec_kw={"height_ratios": heights})  # fmt: skip
        for ax, rows in zip(axes[:, 0], groups.values()):
            _forest_panel(ax, rows, full_size)
        fig.supxlabel(
            "arm − baseline, paired over seeds; dots: per seed; bar: the interval that decided "
            "the word (its Holm level)",
            fontsize=7,
        )
        fig.tight_layout()
    return fig


def plot_forest(section: Section, path: Path, full_size: dict | None = None) -> bool:
    """forest.png; False when nothing was compared."""
    fig = forest_figure(section, full_size)
    if fig is None:
        return False
    save_chart(fig, path, factor="difference", axis="value")
    _pyplot().close(fig)
    return True


def _arm_bar(ax, x: int, mean: float, c: Comparison | None, half: float, base: bool) -> None:
    """One arm: the paired interval where compared, the baseline hollow, else a 95 % bar."""
    if c is not None and c.low == c.low:
        low, high = c.arm_interval
        ax.errorbar([x], [mean], yerr=[[mean - low], [high - mean]], fmt="o", color="#0072B2",
                    capsize=3, label="paired interval vs the baseline (its Holm level)")  # fmt: skip
    elif base:
        ax.errorbar([x], [mean], yerr=[[half if half == half else 0]] * 2, fmt="s", mfc="white",
                    color="#D55E00", capsize=3, label="baseline (95 % over seeds)")  # fmt: skip
    else:
        ax.errorbar([x], [mean], yerr=[[half if half == half else 0]] * 2, fmt="o", color="0.5",
                    capsize=3, linestyle="none", label="95 % over seeds (not compared)")  # fmt: skip


def _baseline_lines(ax, arms: list, compared: tuple[Comparison, ...], metric: str) -> None:
    """Each baseline's mean as a dashed line across the arms compared with it."""
    where = {a.arm: x for x, a in enumerate(arms)}
    for base in dict.fromkeys(c.baseline for c in compared if c.baseline in where):
        xs = [
            where[base],
            *(where[c.arm] for c in compared if c.baseline == base and c.arm in where),
        ]
        mean = next(a.means[metric] for a in arms if a.arm == base)
        ax.plot([min(xs) - 0.3, max(xs) + 0.3], [mean, mean], "--", color="#D55E00",
                linewidth=0.7, zorder=0)  # fmt: skip


def grouped(arms: list, compared: tuple[Comparison, ...]) -> list:
    """The arms in declared order, each baseline followed by the arms compared with it (a
    design with cells, e.g. a task per cell, keeps each cell together); the rest last."""
    order, placed = [], set()
    for base in dict.fromkeys(c.baseline for c in compared):
        members = {base} | {c.arm for c in compared if c.baseline == base}
        order += [a for a in arms if a.arm in members and a.arm not in placed]
        placed |= members
    return order + [a for a in arms if a.arm not in placed]


def tick(arm, bases: set, compared: dict, full_size: dict | None) -> str:
    """An arm's tick label: `(baseline)` under a baseline, and `vs <baseline>` under a compared
    arm where a baseline is itself compared (its bar is against the one named)."""
    label = arm_label(arm.name, full_size) + ("\n(baseline)" if arm.arm in bases else "")
    c = compared.get(arm.arm)
    if c is not None and bases & set(compared):  # a baseline is compared too: say against which
        label += f"\nvs {arm_label(c.baseline_name, full_size)}"
    return label


def arm_chart(section: Section, metric: str, path: Path, full_size: dict | None = None) -> bool:
    """`metric` per arm in declared order; False when no arm has it."""
    arms = [a for a in section.arms if not math.isnan(a.means.get(metric, math.nan))]
    if not arms:
        return False
    arms = grouped(arms, section.of_metric(metric))
    compared = {c.arm: c for c in section.of_metric(metric)}
    bases = {c.baseline for c in section.of_metric(metric)} or {
        c.baseline for c in section.comparisons
    }  # a metric compared with nothing: the section's baselines still marked
    plt = _pyplot()
    with plt.style.context(STYLE):
        fig, ax = plt.subplots(figsize=(max(4.5, 0.55 * len(arms) + 2), 3.4))
        for x, a in enumerate(arms):
            _arm_bar(
                ax, x, a.means[metric], compared.get(a.arm), a.halves.get(metric), a.arm in bases
            )
        _baseline_lines(ax, arms, section.of_metric(metric), metric)
        names = [tick(a, bases, compared, full_size) for a in arms]
        ax.set_xticks(
            range(len(arms)),
            names,
            rotation=30 if len(arms) > 4 else 0,
            fontsize=7,
            ha="right" if len(arms) > 4 else "center",
        )
        ax.set_ylabel(registry(metric).label, fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        keep = dict(zip(labels, handles))
        ax.legend(keep.values(), keep.keys(), fontsize=6, loc="best")
        fig.tight_layout()
        save_chart(fig, path, factor="arm", levels=[a.name for a in arms], axis="categorical")
        plt.close(fig)
    return True
