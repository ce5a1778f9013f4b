"""An arm described, not compared: the mean of a metric over its seeds and a 95 % interval
(`mean_ci`: a t-interval over seeds; `accuracy_interval`: the seeds' variance plus the binomial
error of the one test set every seed shares, so it is never zero-width). The per-arm table and
charts show these where no paired comparison decides; a comparison's own interval is the
protocol's (`biaslab.study.bootstrap`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ACCURACIES = ("test/acc", "test_last/acc")  # proportions over `test/n` test examples


def t_quantile(n: int, level: float = 0.95) -> float:
    """The two-sided t quantile for n values (NaN below 2)."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else math.nan


def mean_ci(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % t-interval over the values, n); NaN half-width for n < 2."""
    v = np.asarray([x for x in values if x == x], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, 0
    half = t_quantile(len(v)) * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
    return float(v.mean()), float(half), len(v)


def accuracy_interval(accuracies: Sequence[float], n_test: int) -> tuple[float, float]:
    """(mean, half-width) of a 95 % interval for the expected accuracy of an arm: the variance
    of the seeds' mean plus the binomial variance of one test set of n_test examples, with the
    Agresti-Coull proportion (x + 2) / (N + 4), which is never 0 or 1."""
    a = np.asarray(accuracies, dtype=float)
    n = len(a)
    mean = float(a.mean())
    p = (mean * n_test + 2) / (n_test + 4)
    binomial = p * (1 - p) / (n_test + 4)
    seeds = a.var(ddof=1) / n if n > 1 else 0.0
    multiplier = t_quantile(n) if n > 2 else 1.96 if n == 1 else t_quantile(2)
    return mean, float(multiplier * math.sqrt(seeds + binomial))


def describe(metric: str, values: Sequence[float], n_test: int | None) -> tuple[float, float]:
    """(mean, 95 % half-width) of one arm's `values` of `metric` (NaN values left out)."""
    kept = [float(v) for v in values if v == v]
    if not kept:
        return math.nan, math.nan
    if metric in ACCURACIES and n_test:
        return accuracy_interval(kept, n_test)
    return mean_ci(kept)[:2]
