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
    assert verdict(-0.03, 0.001, math.nan, None, higher_is_better=False) == "better"  # a loss


def test_mcnemar_counts_only_discordant_examples():
    a = np.array([True] * 90 + [False] * 10)
    assert mcnemar(a, a) == 1.0
    b = a.copy()
    b[:20] = False  # b misses 20 that a gets: p = 2 * 0.5^20
    assert mcnemar(a, b) == pytest.approx(2 * 0.5**20)
