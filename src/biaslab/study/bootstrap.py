"""Protocol v2's resampling (`docs/protocol.md`, rule 1): the paired two-level bootstrap of a
difference of two arms over seeds and test examples, its percentile interval and the p dual to
that interval. Pure functions on arrays; randomness only through an explicit seed or
`numpy.random.Generator`, so the same inputs give the same draws."""

from __future__ import annotations

import numpy as np

N_BOOT = 4000


def _draw_counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """(rows, n): how often each of n items is drawn in n draws with replacement, per row."""
    picks = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
    return np.bincount(picks.ravel(), minlength=rows * n).reshape(rows, n).astype(float)


def _crossed(d: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Seeds and examples resampled independently, one draw of examples per replicate shared
    by every seed (Owen's pigeonhole bootstrap): every seed tested on the same test set, whose
    sampling error therefore does not average out over seeds. d: (seeds, n_test)."""
    seeds, n = d.shape
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(seeds, n))
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        w, v = _draw_counts(rng, rows, seeds), _draw_counts(rng, rows, n)
        out[start : start + rows] = np.einsum("bn,bn->b", w @ d, v) / (seeds * n)
    return out


def _nested(d: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Seeds resampled, then each drawn seed's examples resampled on their own (each seed has
    its own test set). Per-example differences take few values (-1, 0, 1 for correctness), so a
    seed's resampled mean is a multinomial draw over its value counts. d: (seeds, n_test)."""
    seeds, n = d.shape
    values, inverse = np.unique(d, return_inverse=True)
    inverse = inverse.reshape(seeds, n)
    if len(values) > 64:
        raise ValueError(
            "the nested bootstrap reads per-example differences of few values (correctness); "
            "pass shared_test_set=True or per-example correctness."
        )
    shares = np.stack([np.bincount(row, minlength=len(values)) for row in inverse]) / n
    picked = rng.integers(0, seeds, size=(n_boot, seeds))
    means = rng.multinomial(n, shares[picked]) @ values / n  # (n_boot, seeds)
    return means.mean(axis=1)


def bootstrap_differences(
    arm: np.ndarray,
    baseline: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int | np.random.Generator = 0,
    shared_test_set: bool = True,
) -> np.ndarray:
    """`n_boot` bootstrap replicates of the mean difference arm − baseline, paired: both arms
    are resampled with the same seeds and the same test examples. arm, baseline: (seeds,
    n_test) per-example correctness (or any per-example score) of the same seeds on the same
    examples; (seeds,) per-run scores resample seeds only. `shared_test_set` (the lab's case:
    one fixed test split for every seed) draws examples once per replicate for all seeds;
    False resamples each drawn seed's examples on their own (a test set per seed)."""
    a, b = np.asarray(arm, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape or a.ndim not in (1, 2) or a.shape[0] < 1:
        raise ValueError(
            f"arm {a.shape} and baseline {b.shape} must be the same (seeds, n_test) shape; pair "
            "the same seeds on the same test examples."
        )
    d = (a - b).reshape(a.shape[0], -1)
    rng = np.random.default_rng(seed)
    return _crossed(d, n_boot, rng) if shared_test_set else _nested(d, n_boot, rng)


def percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """The two-sided percentile interval of bootstrap `draws` at coverage `level` (0.95)."""
    tail = (1.0 - level) / 2
    low, high = np.quantile(np.asarray(draws, dtype=float), [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_p(draws: np.ndarray) -> float:
    """The two-sided p dual to the percentile interval: twice the smaller share of replicates
    on either side of 0, each counted with the observed one, ((hits + 1) / (B + 1)), at most 1.
    A 1 - level interval excludes 0 where this p is below `level`, up to the draws' grain."""
    d = np.asarray(draws, dtype=float)
    side = min(int(np.sum(d <= 0)), int(np.sum(d >= 0)))
    return min(1.0, 2 * (side + 1) / (len(d) + 1))
