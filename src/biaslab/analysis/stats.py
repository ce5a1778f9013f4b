"""The statistics a verdict is computed from. Pure functions on numbers, tested on constructed
inputs (tests/test_stats.py); `biaslab.analysis.tables` applies them to sweeps.

- `accuracy_interval`: seeds' variance plus the test set's binomial error, so an interval is
  never zero-width, even when every seed scores the same (n seeds share one test set: its
  sampling error does not average out over seeds).
- `paired_t` (over seeds) and `mcnemar` (over test examples) give p-values of a difference;
  `holm` corrects a preset's comparisons; `tost` tests equivalence within ±delta.
- `verdict` turns them into a word: better / worse / equivalent within ±δ / inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from biaslab.study.describe import accuracy_interval, mean_ci, t_quantile  # noqa: F401

ALPHA = 0.05


def paired_t(diffs: Sequence[float]) -> float:
    """Two-sided p-value that the mean paired difference is 0 (NaN for n < 2; with no spread,
    0 when the difference is not 0, else 1)."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return math.nan
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() != 0 else 1.0
    t = d.mean() / (sd / math.sqrt(len(d)))
    return float(2 * stats.t.sf(abs(t), len(d) - 1))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value over paired examples (booleans of equal length; several
    seeds may be concatenated, pairing seed i of one arm with seed i of the other)."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(only_a, only_b), only_a + only_b, 0.5)))


def tost(diffs: Sequence[float], delta: float) -> float:
    """Paired two one-sided t-tests: p-value that |mean difference| >= delta is false (small p:
    equivalent within ±delta). NaN for n < 2."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2 or not delta > 0:
        return math.nan
    se = d.std(ddof=1) / math.sqrt(len(d))
    if se == 0:
        return 0.0 if abs(d.mean()) < delta else 1.0
    df = len(d) - 1
    p_lower = stats.t.sf((d.mean() + delta) / se, df)  # H0: mean <= -delta
    p_upper = stats.t.cdf((d.mean() - delta) / se, df)  # H0: mean >= +delta
    return float(max(p_lower, p_upper))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and is not counted)."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(len(p), math.nan)
    order = valid[np.argsort(p[valid])]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def mde(sd: float, n: int, comparisons: int = 1, power: float = 0.8) -> float:
    """The minimum detectable effect of a paired t-test over n seeds: the true mean difference
    found significant with probability `power` (two-sided, at ALPHA / comparisons: the first
    step of Holm's correction, the strictest), given the SD of the paired differences. Exact:
    the noncentrality at which the noncentral t's power is `power`; NaN for n < 2."""
    from scipy.optimize import brentq

    if n < 2 or sd != sd:
        return math.nan
    df = n - 1
    crit = stats.t.ppf(1 - ALPHA / max(1, comparisons) / 2, df)

    def short(nc: float) -> float:  # the far tail underflows to NaN at large nc: it is 0
        far = float(np.nan_to_num(stats.nct.cdf(-crit, df, nc)))
        return float(stats.nct.sf(crit, df, nc)) + far - power

    return float(brentq(short, 0.0, 3 * crit + 10.0) * sd / math.sqrt(n))


def target_mde(diff: float, delta: float) -> float:
    """The MDE a comparison needs, from its (pilot's) difference: its distance from +-delta, at most
    delta (a difference near +-delta is decided, equivalent or not, only by an MDE that small:
    else a re-run may find either word, as loss did in docs/replication.md); beyond 2 delta,
    half the difference (such an effect is found with fewer seeds)."""
    size = abs(diff)
    return size / 2 if size >= 2 * delta else min(delta, abs(size - delta))


def seeds_for(
    sd: float, delta: float, comparisons: int = 1, power: float = 0.8, cap: int = 20
) -> int:
    """The fewest seeds (>= 3) whose MDE is <= delta, capped at `cap` (the pilot's rule)."""
    for n in range(3, cap + 1):
        if mde(sd, n, comparisons, power) <= delta:
            return n
    return cap


def verdict(
    mean_diff: float,
    p_diff: float,
    p_equiv: float,
    delta: float | None,
    better: str | None = "higher",
) -> str:
    """The word for one comparison with the baseline (p-values already corrected). `better`
    (the metric registry's direction: higher, lower or None) decides between better/worse;
    a metric without a direction is said to be higher or lower. A difference the paired TOST
    puts inside ±delta is `equivalent` even where the t-test also detects it: delta is the
    declared smallest difference that matters, so the word does not turn on whether many seeds
    resolve a difference the declaration calls too small to matter (the line prints it)."""
    if delta and p_equiv == p_equiv and p_equiv < ALPHA:
        return f"equivalent within ±{delta:g}"
    if p_diff == p_diff and p_diff < ALPHA:
        if better is None:
            return "higher" if mean_diff > 0 else "lower"
        return "better" if (mean_diff > 0) == (better == "higher") else "worse"
    return "inconclusive"
