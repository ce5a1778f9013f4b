"""Protocol v2 (`biaslab.study.protocol`): each outcome of the rule on constructed data, and the
intervals and p-values cross-checked against scipy.stats and statsmodels on seeded random
inputs. Fast: no training, small arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from biaslab.study import protocol as P

DELTA = 0.01


def shifted(seeds: int, n: int, up: float, down: float, seed: int = 0):
    """(arm, baseline) per-example correctness (seeds, n): the baseline ~80 % correct; the arm
    the same, except that a share `up` of the examples (the same ones for every seed: one test
    set) turns right and a share `down` turns wrong; each seed's baseline is its own draw."""
    rng = np.random.default_rng(seed)
    base = rng.random((seeds, n)) < 0.8
    arm = base.copy()
    order = rng.permutation(n)
    gain, loss = order[: round(up * n)], order[round(up * n) : round((up + down) * n)]
    arm[:, gain], base[:, gain] = True, False
    arm[:, loss], base[:, loss] = False, True
    return arm, base


def decided(arm, base, delta=DELTA, better="higher", family=None) -> P.Verdict:
    """The word of one comparison, alone in its family (or with `family` - 1 null partners)."""
    evidence = [P.mean_evidence(arm, base, n_boot=2000)]
    for i in range(1, family or 1):
        evidence.append(P.mean_evidence(*shifted(len(arm), 400, 0.1, 0.1, seed=i), n_boot=2000))
    return P.decide_family(evidence, [delta] * len(evidence), [better] * len(evidence))[0]


def test_the_version_is_2_and_every_better_or_worse_word_says_where_it_sits_against_delta():
    assert P.PROTOCOL_VERSION == 2
    for better in ("higher", "lower", None):
        sized = [
            w for w in P.words(better) if w.split()[0] in ("better", "worse", "higher", "lower")
        ]
        assert len(sized) == 6
        assert all(w.endswith((P.BEYOND, P.WITHIN, P.UNDECIDED)) for w in sized)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.011, 0.03, "better (beyond δ)"),  # entirely beyond +δ: minimum-effect test
        (-0.03, -0.011, "worse (beyond δ)"),
        (0.002, 0.008, "better (within δ)"),  # nonzero, and shown smaller than δ
        (-0.008, -0.002, "worse (within δ)"),
        (-0.009, 0.009, "equivalent (within ±δ)"),  # TOST
        (0.002, 0.02, "better (vs δ undecided)"),  # excludes 0, straddles +δ
        (-0.02, -0.002, "worse (vs δ undecided)"),
        (0.01, 0.03, "better (vs δ undecided)"),  # touching δ is not beyond it
        (-0.005, 0.02, "inconclusive"),
        (-0.02, 0.02, "inconclusive"),
        (math.nan, math.nan, "inconclusive"),
    ],
)
def test_the_word_of_an_interval_against_delta(low, high, expected):
    assert P.word(low, high, DELTA, "higher") == expected
    flipped = (
        expected.replace("better", "WORSE").replace("worse", "better").replace("WORSE", "worse")
    )
    assert P.word(low, high, DELTA, "lower") == flipped  # a loss: lower is better
    neutral = expected.replace("better", "higher").replace("worse", "lower")
    assert P.word(low, high, DELTA, None) == neutral


def test_without_a_delta_only_the_direction_is_said():
    assert P.word(0.001, 0.002, None) == "better"
    assert P.word(-0.2, -0.1, None, "lower") == "better"
    assert P.word(-0.1, 0.1, None) == "inconclusive"


@pytest.mark.parametrize(
    ("up", "down", "n", "expected"),
    [
        (0.05, 0.0, 2000, "better (beyond δ)"),  # +0.05, SE ~0.005
        (0.005, 0.0, 5000, "better (within δ)"),  # +0.005, SE ~0.001
        (0.003, 0.003, 5000, "equivalent (within ±δ)"),  # 0, SE ~0.001
        (0.01, 0.0, 2000, "better (vs δ undecided)"),  # +0.01, SE ~0.002
        (0.05, 0.045, 400, "inconclusive"),  # +0.005, SE ~0.015
    ],
)
def test_each_outcome_on_constructed_correctness_both_sides(up, down, n, expected):
    arm, base = shifted(8, n, up, down)
    verdict = decided(arm, base)
    assert verdict.word == expected, verdict
    assert verdict.low <= verdict.diff <= verdict.high
    mirrored = decided(base, arm)  # the same comparison the other way round
    assert mirrored.word == expected.replace("better", "worse")
    assert mirrored.low == pytest.approx(-verdict.high) and mirrored.high == pytest.approx(
        -verdict.low
    )


def test_holm_level_of_the_family_widens_the_interval_that_decides_the_word():
    arm, base = shifted(10, 2000, 0.012, 0.0, seed=3)  # 10 seeds: enough for m = 10
    alone, in_ten = decided(arm, base), decided(arm, base, family=10)
    assert alone.level == pytest.approx(0.05)
    assert in_ten.level <= 0.05 / 10 + 1e-12  # the smallest p is tested at alpha / m
    assert in_ten.low < alone.low and in_ten.high > alone.high
    assert alone.word == "better (vs δ undecided)"
    assert in_ten.word in ("better (vs δ undecided)", "inconclusive")  # never beyond/within


def test_too_few_seeds_where_no_sign_flip_test_reaches_alphas_holm_level():
    assert P.min_signflip_p(5) == 2 / 32 and P.too_few_seeds(5, 1) and not P.too_few_seeds(6, 1)
    for m in (1, 2, 6, 30):  # fewest n with 2 / 2^n <= alpha / m
        n = P.fewest_seeds(m)
        assert 2 / 2**n <= 0.05 / m < 2 / 2 ** (n - 1)
    huge = decided(*shifted(5, 1000, 0.2, 0.0))  # +0.2 on every seed: the bootstrap says beyond
    assert huge.word == P.TOO_FEW and huge.too_few_seeds and huge.low > DELTA
    assert decided(*shifted(6, 1000, 0.2, 0.0)).word == "better (beyond δ)"
    assert decided(*shifted(7, 1000, 0.2, 0.0), family=6).word == P.TOO_FEW  # needs 8 at m = 6
    assert decided(*shifted(8, 1000, 0.2, 0.0), family=6).word == "better (beyond δ)"


def test_counts_are_tested_as_counts():
    fewer = P.count_evidence(0, 10, 8, 10)  # diverged: 0 of 10 runs against 8 of 10
    tied = P.count_evidence(2, 10, 3, 10)
    one_run = P.count_evidence(0, 1, 1, 1)
    verdicts = P.decide_family([fewer, tied], [None, None], ["lower", "lower"])
    assert [v.word for v in verdicts] == ["better", "inconclusive"]
    assert math.isnan(verdicts[0].low)  # a count's word comes from its exact test
    assert P.decide_family([one_run], [None], ["lower"])[0].word == P.TOO_FEW
    assert fewer.diff == pytest.approx(-0.8)
    for k_a, k_b in ((0, 8), (2, 3), (1, 6)):  # Fisher's p: the hypergeometric tables as likely
        table = np.array([[k_a, 10 - k_a], [k_b, 10 - k_b]])
        law = stats.hypergeom(20, k_a + k_b, 10)
        probs = law.pmf(np.arange(0, k_a + k_b + 1))
        expected = probs[probs <= law.pmf(k_a) * (1 + 1e-7)].sum()
        got = P.count_evidence(k_a, 10, k_b, 10)
        assert got.p_fisher == pytest.approx(expected, rel=1e-9)
        assert got.p == pytest.approx(stats.barnard_exact(table).pvalue, rel=1e-9)
    with pytest.raises(ValueError):
        P.count_evidence(11, 10, 0, 10)


def test_holm_against_statsmodels_and_levels_agree_with_it():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    for m in (1, 2, 5, 12):
        p = rng.uniform(0, 0.06, m) ** rng.uniform(1, 3)
        rejected, adjusted, _, _ = multipletests(p, alpha=0.05, method="holm")
        assert P.holm(p) == pytest.approx(adjusted.tolist())
        levels = P.holm_levels(p)
        assert [pi <= li for pi, li in zip(p, levels)] == rejected.tolist()
    assert P.holm([0.01, math.nan]) == pytest.approx([0.01, math.nan], nan_ok=True)
    assert P.holm_levels([0.01, 0.02, 0.03]) == pytest.approx([0.05 / 3, 0.025, 0.05])  # all
    assert P.holm_levels([0.01, 0.04, 0.03]) == pytest.approx([0.05 / 3, 0.025, 0.025])  # stops


def test_sign_flip_p_against_scipy_permutation_test():
    rng = np.random.default_rng(11)

    def mean_diff(x, y, axis=-1):
        return np.mean(x - y, axis=axis)

    for n in (3, 5, 8, 12, 20):
        arm, base = rng.normal(0.02, 0.03, n), rng.normal(0.0, 0.03, n)
        exact = n <= P.EXACT_SIGNFLIP_UP_TO
        ref = stats.permutation_test(
            (arm, base),
            mean_diff,
            permutation_type="samples",
            vectorized=True,
            n_resamples=np.inf if exact else 9999,
            rng=1,
        ).pvalue
        assert P.signflip_p(arm - base) == pytest.approx(ref, rel=1e-9, abs=0 if exact else 0.01)
    assert P.signflip_p(np.full(5, 0.01)) == pytest.approx(P.min_signflip_p(5))


def test_t_p_against_statsmodels():
    from statsmodels.stats.weightstats import DescrStatsW

    rng = np.random.default_rng(3)
    for n in (3, 6, 20):
        d = rng.normal(0.01, 0.02, n)
        assert P.t_p(d) == pytest.approx(DescrStatsW(d).ttest_mean(0.0)[1], rel=1e-9)
    assert math.isnan(P.t_p([0.1]))


def test_one_seed_bootstrap_is_scipys_paired_bootstrap_of_examples():
    rng = np.random.default_rng(5)
    arm, base = rng.random((1, 300)) < 0.75, rng.random((1, 300)) < 0.7
    for shared in (True, False):
        draws = P.bootstrap_differences(arm, base, n_boot=10000, seed=2, shared_test_set=shared)
        ref = stats.bootstrap(
            (arm[0].astype(float), base[0].astype(float)),
            lambda a, b, axis=-1: np.mean(a - b, axis=axis),
            paired=True,
            vectorized=True,
            method="percentile",
            n_resamples=10000,
            rng=3,
        ).confidence_interval
        low, high = P.percentile_interval(draws, 0.95)
        close = 0.1 * float(np.std(draws)) + 1 / 300  # up to one step of 1/300 (correctness)
        assert abs(low - ref.low) < close and abs(high - ref.high) < close


def test_constant_examples_bootstrap_is_scipys_bootstrap_of_seeds():
    rng = np.random.default_rng(6)
    per_seed = rng.normal(0.02, 0.01, 12)
    arm, base = np.repeat(per_seed[:, None], 50, axis=1), np.zeros((12, 50))
    draws = P.bootstrap_differences(arm, base, n_boot=20000, seed=4)
    low, high = P.percentile_interval(draws, 0.9)
    ref = stats.bootstrap(
        (per_seed,), np.mean, method="percentile", n_resamples=20000, confidence_level=0.9, rng=5
    ).confidence_interval
    se = float(np.std(draws))
    assert abs(low - ref.low) < 0.1 * se and abs(high - ref.high) < 0.1 * se


def test_a_shared_test_sets_error_does_not_shrink_with_seeds():
    """Every seed scores the same examples the same way: the difference is the test set's
    alone. Seeds add nothing, so the shared-test-set interval keeps one test set's width,
    where the nested one (a test set per seed) shrinks by about sqrt(seeds)."""
    rng = np.random.default_rng(8)
    row = (rng.random(500) < 0.3).astype(float) - (rng.random(500) < 0.3)
    d = np.tile(row, (16, 1))
    zero = np.zeros_like(d)
    width = {}
    for shared in (True, False):
        draws = P.bootstrap_differences(d, zero, n_boot=4000, seed=1, shared_test_set=shared)
        width[shared] = np.subtract(*P.percentile_interval(draws, 0.95)[::-1])
    one_set = 2 * 1.96 * row.std() / math.sqrt(500)
    assert width[True] == pytest.approx(one_set, rel=0.1)
    assert width[False] == pytest.approx(one_set / 4, rel=0.15)


def test_bootstrap_p_is_dual_to_its_interval():
    rng = np.random.default_rng(9)
    for centre in (0.0, 0.01, 0.02, 0.03):
        draws = rng.normal(centre, 0.01, 4000)
        p = P.bootstrap_p(draws)
        for level in (0.01, 0.05, 0.2):
            low, high = P.percentile_interval(draws, 1 - level)
            if abs(p - level) > 0.005:  # away from the draws' grain
                assert (low > 0 or high < 0) == (p < level)


def test_the_pilots_sd_at_its_upper_confidence_limit_covers_the_true_sd():
    assert P.sd_upper_limit(1.0, 10, 0.8) == pytest.approx(math.sqrt(9 / stats.chi2.ppf(0.2, 9)))
    rng = np.random.default_rng(2)
    samples = rng.normal(0, 1, (4000, 5)).std(axis=1, ddof=1)
    covered = np.mean([P.sd_upper_limit(s, 5, 0.8) >= 1.0 for s in samples])
    assert covered == pytest.approx(0.8, abs=0.03)


def test_seeds_needed_against_statsmodels_power_and_the_floor():
    from statsmodels.stats.power import TTestPower

    for sd, n_pilot, delta, m in ((0.01, 10, 0.01, 1), (0.02, 5, 0.01, 6), (0.005, 20, 0.01, 4)):
        need = P.seeds_needed(sd, n_pilot, delta, m)
        effect = delta / P.sd_upper_limit(sd, n_pilot, 0.8)
        solved = TTestPower().solve_power(
            effect, alpha=0.05 / (2 * m), power=0.8, alternative="larger"
        )
        assert need == max(math.ceil(solved), P.fewest_seeds(m))
        assert P.underpowered(need - 1, sd, n_pilot, delta, m)
        assert not P.underpowered(need, sd, n_pilot, delta, m)
    assert P.seeds_needed(0.0, 10, 0.01, 6) == P.fewest_seeds(6)  # no spread: the floor
    small, large = P.seeds_needed(0.01, 5, 0.01, 1), P.seeds_needed(0.01, 50, 0.01, 1)
    assert small > large  # a smaller pilot's SD is less certain: planned for more seeds
