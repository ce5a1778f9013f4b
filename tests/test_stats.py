"""Verdicts and intervals on constructed inputs: each function against a case it must get right."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biaslab.analysis.stats import accuracy_interval, holm, mcnemar, paired_t, tost, verdict


def test_interval_is_not_zero_width_when_all_seeds_agree():
    mean, half = accuracy_interval([0.9926, 0.9926, 0.9926], n_test=270)
    assert mean == 0.9926 and half > 0.005  # the 270-example test set alone: ~ ±0.01
    assert accuracy_interval([1.0] * 5, n_test=10_000)[1] > 0  # even at 100 %
    wide, narrow = (
        accuracy_interval([0.8, 0.9, 0.85], 10_000)[1],
        accuracy_interval([0.85] * 3, 10_000)[1],
    )
    assert wide > narrow  # seed spread widens it


def test_holm_matches_the_step_down_rule():
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx(
        [0.03, 0.06, 0.06, math.nan], nan_ok=True
    )
    assert holm([0.2]) == [0.2]


def test_verdict_words_on_constructed_arms():
    rng = np.random.default_rng(0)
    differ = 0.03 + rng.normal(0, 0.002, 5)  # a clear 3-point gain
    same = rng.normal(0, 0.001, 5)  # the same within ±0.005
    noisy = rng.normal(0.01, 0.05, 5)  # too noisy to tell
    words = [
        verdict(d.mean(), p, e, 0.005)
        for d, p, e in zip(
            (differ, same, noisy),
            holm([paired_t(x) for x in (differ, same, noisy)]),
            holm([tost(x, 0.005) for x in (differ, same, noisy)]),
        )
    ]
    assert words == ["better", "equivalent within ±0.005", "inconclusive"]
    assert verdict(-0.03, 0.001, math.nan, None) == "worse"
    assert verdict(-0.03, 0.001, math.nan, None, better="lower") == "better"  # a loss
    tiny = -0.002 + rng.normal(0, 0.0005, 20)  # 20 seeds find a difference smaller than δ
    assert paired_t(tiny) < 0.05 and tost(tiny, 0.01) < 0.05  # both tests pass
    assert verdict(tiny.mean(), paired_t(tiny), tost(tiny, 0.01), 0.01) == "equivalent within ±0.01"
    assert verdict(tiny.mean(), paired_t(tiny), tost(tiny, 0.001), 0.001) == "worse"  # δ below it


def test_mcnemar_counts_only_discordant_examples():
    a = np.array([True] * 90 + [False] * 10)
    assert mcnemar(a, a) == 1.0
    b = a.copy()
    b[:20] = False  # b misses 20 that a gets: p = 2 * 0.5^20
    assert mcnemar(a, b) == pytest.approx(2 * 0.5**20)


def test_the_tests_match_scipy_and_statsmodels_on_random_inputs():
    from scipy import stats
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(3, 12))
        d = rng.normal(rng.normal(0, 0.02), rng.uniform(0.005, 0.03), n)
        assert paired_t(d) == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
        delta = float(rng.uniform(0.005, 0.05))
        upper = stats.ttest_1samp(d, delta, alternative="less").pvalue
        lower = stats.ttest_1samp(d, -delta, alternative="greater").pvalue
        assert tost(d, delta) == pytest.approx(max(upper, lower))
        p = rng.uniform(0, 0.2, int(rng.integers(2, 10)))
        assert holm(p.tolist()) == pytest.approx(multipletests(p, method="holm")[1].tolist())
        a, b = rng.random(200) < 0.8, rng.random(200) < 0.75
        table = [
            [int((a & b).sum()), int((a & ~b).sum())],
            [int((~a & b).sum()), int((~a & ~b).sum())],
        ]
        assert mcnemar(a, b) == pytest.approx(sm_mcnemar(table, exact=True).pvalue)


def test_the_mde_is_the_effect_found_with_80_percent_power():
    """Power of the paired t-test at the MDE, from the noncentral t distribution, is 0.80."""
    from scipy import stats

    from biaslab.analysis.stats import ALPHA, mde, seeds_for

    for n, m in ((5, 1), (5, 4), (10, 2), (20, 18)):
        sd = 0.01
        effect = mde(sd, n, m)
        df, crit = n - 1, stats.t.ppf(1 - ALPHA / m / 2, n - 1)
        nc = effect / (sd / math.sqrt(n))
        power = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
        assert power == pytest.approx(0.80, abs=1e-6), (n, m, power)
    assert mde(0.01, 20) < mde(0.01, 5) and mde(0.01, 5, 10) > mde(0.01, 5, 1)
    n = seeds_for(0.01, 0.02)
    assert mde(0.01, n) <= 0.02 < mde(0.01, n - 1) or n == 3
    assert seeds_for(0.05, 0.001) == 20  # capped
