"""Tuning as a pure function: a table of tuning scores (one row per tuning run: the arm's
factors, the grid keys, the metric) -> a pick per arm by a stated tie rule, and the grid values
to tune next where a pick sits at the grid's edge. No process is started here and nothing is
read or written: `biaslab.study.runner` runs the tuning sweeps and hands their table over."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biaslab.errors import ConfigError
from biaslab.study.settings import TuneSpec

NOISE_Z = 1.645  # one-sided 5 %: a value is tied unless the best beats it beyond noise


def pick(scores: dict[str, float], tie: float) -> tuple[str, list[str]]:
    """The tie rule: of the grid values whose mean score is within `tie` of the best (noise
    cannot order them), the middle one in grid order (the lower middle of an even count), so that
    a re-run's noise moves the pick less than taking the maximum would. Returns (pick, tied)."""
    best = max(scores.values())
    tied = [v for v, score in scores.items() if score >= best - tie]
    return tied[(len(tied) - 1) // 2], tied


def noise_tie(seed_scores: dict[str, list[float]]) -> float:
    """`tune.tie: noise`: NOISE_Z standard errors of a difference of two grid values' means,
    from the tuning seeds' own spread: NOISE_Z * SD * sqrt(2 / seeds), SD the median over the
    grid of each value's SD across seeds (the median, so that a diverging value does not widen
    the tie). seed_scores: {grid value: [score per tuning seed]}."""
    import numpy as np

    spreads = [
        float(np.std(v, ddof=1))
        for v in (np.asarray(s, float) for s in seed_scores.values())
        if np.isfinite(v).sum() == len(v) >= 2
    ]
    if not spreads:  # the spec refuses fewer than 2 tuning seeds before any run: all diverged
        raise ConfigError(
            "tune.tie=noise found no grid value with a finite score on 2 or more tuning seeds "
            "(every value diverged); widen tune.grid towards smaller values."
        )
    seeds = int(np.median([len(s) for s in seed_scores.values()]))
    return float(NOISE_Z * np.median(spreads) * np.sqrt(2 / seeds))


def beyond_edge(values: list[str], chosen: str) -> str | None:
    """The next grid value past an edge pick of a numeric grid of 3 or more values, continuing
    its pattern (1e-3, 3e-3, 1e-2, 3e-2 -> 0.1); None when the pick is inside the grid."""
    try:
        grid = sorted(float(v) for v in values)
    except ValueError:
        return None
    if len(grid) < 3 or float(chosen) not in (grid[0], grid[-1]) or min(grid) <= 0:
        return None
    step = grid[-1] / grid[-3] if float(chosen) == grid[-1] else grid[0] / grid[2]
    edge = grid[-2] if float(chosen) == grid[-1] else grid[1]
    return f"{edge * step:.3g}"


def to_widen(values: list[str], tied: list[str]) -> list[str]:
    """The grid values to tune next: one past each edge that a tied value sits at, both edges
    when the tie spans the grid (a flat response), so that the widened grid is not lopsided."""
    return list(dict.fromkeys(e for e in (beyond_edge(values, v) for v in tied) if e is not None))


def grid_order(value: str) -> tuple:
    """Numeric grid values in numeric order, others as text."""
    try:
        return (0, *(float(v) for v in value.split(",")))
    except ValueError:
        return (1, value)


def arm_slug(arm: Mapping[str, str]) -> str:
    """A folder name for an arm: optimizer=adam,seed=1 -> optimizer-adam_seed-1; checked as one
    plain folder name (it names folders in the preset's dir: never `..`, never too long)."""
    from biaslab.run.paths import plain_name

    slug = "_".join(f"{k}-{v}" for k, v in arm.items()).replace("/", "-") or "all"
    return plain_name(slug, "the arm folder", "shorten the swept values of this arm")


def pick_arm(group, tune: TuneSpec, arm: dict[str, str]) -> dict[str, Any]:
    """One arm's tuning.json entry from its rows of the scores table (`group`: a DataFrame
    with the grid keys as text and `tune.metric`): the mean score per grid value, the tie (a
    number, or sized from the seeds' spread), the pick and the values tied with it."""
    grid = list(tune.grid)
    scores = group.groupby(grid)[tune.metric].mean()
    scores.index = [",".join(map(str, k if isinstance(k, tuple) else (k,))) for k in scores.index]
    scores = scores.sort_index(key=lambda i: [grid_order(v) for v in i])
    sign = -1.0 if tune.goal == "min" else 1.0
    tie = (
        noise_tie(group.groupby(grid)[tune.metric].agg(list).to_dict())
        if tune.tie == "noise"
        else float(tune.tie)
    )
    best, tied = pick({k: sign * v for k, v in scores.items()}, tie)
    return {
        "arm": arm,
        "chosen": dict(zip(grid, best.split(","))),
        "metric": tune.metric,
        "tie": tie,
        "tie_rule": str(tune.tie),
        "tied": tied,
        "scores": {k: float(v) for k, v in scores.items()},
    }


def picks(table, tune: TuneSpec, over: tuple[str, ...]):
    """The pure tuning step: the scores table (one row per tuning run; `status` ok rows count)
    -> ({arm slug: tuning.json entry}, [(arm, next grid value), ...]): each arm's pick (the arm
    made of the `over` factors) and, for a one-key grid, the values past an edge that the pick
    or a value tied with it sits at (`to_widen`)."""
    grid = list(tune.grid)
    ok = table[table["status"] == "ok"].astype({k: str for k in grid})
    chosen, widen = {}, []
    groups = ok.groupby(list(over), dropna=False) if over else [((), ok)]
    for values, group in groups:
        values = values if isinstance(values, tuple) else (values,)
        arm = dict(zip(over, map(str, values)))
        entry = pick_arm(group, tune, arm)
        chosen[arm_slug(arm)] = entry
        if len(grid) == 1:
            widen += [(arm, nxt) for nxt in to_widen(list(entry["scores"]), entry["tied"])]
    return chosen, widen
