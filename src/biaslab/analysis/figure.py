"""The frame every report chart shares: level order, facets that keep a panel to at most
`MAX_SERIES` series, a grid of panels, and saving with a description a test can read back."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

DPI = 150
# Okabe & Ito's colour-blind-safe hues (yellow left out: unreadable on white), the first six
# all different hues, since a panel holds at most MAX_SERIES series; a marker per series is a
# second channel (tableau-colorblind10 paired two blues and two oranges within six series).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000", "#56B4E9"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
STYLE = {"axes.prop_cycle": f"cycler(color={PALETTE!r})"}  # matplotlib rc, as a style
MAX_SERIES = 6  # more series than this share no panel: one panel per level of a factor
CHART_KEY = "biaslab-chart"  # the PNG text chunk that describes what the chart draws


def series_style(k: int) -> dict:
    """The colour and marker of a chart's k-th series: distinct hue and marker up to 7."""
    return {"color": PALETTE[k % len(PALETTE)], "marker": MARKERS[k % len(MARKERS)]}


def is_full(value) -> bool:
    """A null level of a numeric factor: `the whole set` (data.train_per_class=null)."""
    return value is None or str(value) in ("null", "None", "nan", "")


def level_key(value) -> tuple:
    """Levels in numeric order where they are numbers (the full set last), else by name with
    the numbers in names read as numbers: board9 before board19, as a reader counts."""
    if is_full(value):
        return (1, math.inf, ())
    try:
        return (0, float(value), ())
    except (TypeError, ValueError):
        parts = re.split(r"(\d+)", str(value))  # text, number, text, ...: alike at each place
        return (2, 0.0, tuple(int(p) if i % 2 else p for i, p in enumerate(parts)))


def facet_keys(levels: dict[str, list[str]], most: int = MAX_SERIES) -> list[str]:
    """The factors to split panels by, so that the rest give at most `most` series per panel:
    the fewest panels, then the fewest facet factors (`levels`: factor -> its levels)."""
    keys = list(levels)
    best: tuple[int, int, list[str]] | None = None
    for size in range(len(keys) + 1):
        for facet in itertools.combinations(keys, size):
            series = math.prod(len(levels[k]) for k in keys if k not in facet)
            panels = math.prod(len(levels[k]) for k in facet)
            if series <= most and (best is None or (panels, size) < best[:2]):
                best = (panels, size, list(facet))
    return best[2] if best else keys


def panel_grid(plt, n: int, width: float = 3.6, height: float = 3.0):
    """A figure of `n` panels, at most 3 across, sharing the y axis; returns (fig, axes)."""
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows + 0.4), sharey=True, squeeze=False
    )
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, list(axes.flat[:n])


def figure_legend(fig, handles: list, labels: list[str]) -> None:
    """One legend for every panel, beside them on the right (outside the plot area)."""
    fig.legend(
        handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )


def save_chart(fig, path: Path, **about) -> None:
    """Save at `DPI` with a description read back from the drawn figure in a PNG text chunk
    (`CHART_KEY`, JSON): per panel the labelled series (the ±δ band is not one), the legend's
    entries and each series' x values, plus `about` (the factor, its levels, the axis kind), so
    a test can check every published chart without re-plotting it."""
    panels = []
    for ax in fig.axes:
        labels = [t for t in ax.get_legend_handles_labels()[1] if not t.startswith("±δ")]
        legend = ax.get_legend()
        entries = [t.get_text() for t in legend.get_texts()] if legend else []
        xs = [c.lines[0].get_xdata() for c in ax.containers if hasattr(c, "has_xerr")]
        xs += [ln.get_xdata() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        panels.append(
            {
                "series": max(len(labels), 1),
                "legend": [t for t in entries if not t.startswith("±δ")],
                "x": [[float(v) for v in x] for x in xs],
                "xscale": ax.get_xscale(),
            }
        )
    legend = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    about = {"panels": panels, "legend": legend, **about}
    meta = {CHART_KEY: json.dumps(about, sort_keys=True)}
    fig.savefig(path, dpi=DPI, metadata=meta, bbox_inches="tight")


def full_level(key: str, value: str, full_size: dict | None) -> str:
    """A level as a label: a null level of a key in `full_size` (`report.full_size`) reads as
    that size, `5400 (all)`; any other level as it is."""
    full_size = full_size or {}
    return f"{full_size[key]:g} (all)" if key in full_size and is_full(value) else value


def arm_label(arm: str, full_size: dict | None = None, shorten: bool = True) -> str:
    """An arm (`k=v,k=v`) or a series or panel name (`k=v, k=v`) as a label: each key cut to its
    last part unless `shorten` is False (model.backbone.kernel_size=5 -> kernel_size=5), and a
    null level of a key in `full_size` read as its size (data.train_per_class=null ->
    train_per_class=5400 (all))."""
    parts = re.split(r",\s?(?=[\w.+~/-]+=)", arm) if arm else []
    return ", ".join(
        f"{k.rsplit('.', 1)[-1] if shorten else k}={full_level(k, v, full_size)}" if sep else k
        for k, sep, v in (part.partition("=") for part in parts)
    )
