"""Protocol v2: how a comparison's word is decided (`docs/protocol.md` says it in prose). Pure
functions on numbers: no I/O, no sentences; randomness only through an explicit seed or
`numpy.random.Generator`, so the same inputs give the same words.

1. The difference of two arms (arm − baseline) and its interval count both sources of variation
   the lab has, the seeds and the test examples: a paired two-level bootstrap of per-example
   correctness (`bootstrap_differences`); beside it a sign-flip permutation p over seeds
   (`signflip_p`) and the paired t-test's p (`t_p`).
2. One Holm family per section (`holm`, `holm_levels`): each comparison's interval is drawn at
   its Holm step's level, and that one interval decides its word (`word`) against ±δ:
   shown beyond δ (a minimum-effect test), shown within ±δ (equivalence: TOST), shown nonzero
   but undecided against δ, or inconclusive (Lakens, Scheel & Isager 2018).
3. Counts (a run diverged or not) are tested as counts: Barnard's exact test on the 2x2 table
   decides, Fisher's exact p is given beside it (`count_evidence`).
4. Where no distribution-free test could reach the family's first Holm level with these seeds
   (a sign-flip over n seeds cannot give p below 2/2^n), the word is `too few seeds`.
5. Before any run: the seeds a comparison needs at its declared δ from a pilot's SD taken at
   its upper confidence limit (`seeds_needed`, `underpowered`), never from an observed effect.

Sources: D. Lakens, A. M. Scheel, P. M. Isager, "Equivalence testing for psychological
research: a tutorial", AMPPS 2018 (equivalence and minimum-effect tests, one interval read
against ±δ); R. Agarwal et al., "Deep reinforcement learning at the edge of the statistical
precipice", NeurIPS 2021 (few runs: report intervals from the bootstrap, not point estimates);
X. Bouthillier et al., "Accounting for variance in machine learning benchmarks", MLSys 2021
(seeds and the test set's sampling both vary a benchmark's result: count both);
R. H. Browne, "On the use of a pilot sample for sample size determination", Stat. Med. 1995
(plan with an upper confidence limit of the pilot's SD).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biaslab.study.bootstrap import (
    N_BOOT,
    bootstrap_differences,
    bootstrap_p,
    percentile_interval,
)
from biaslab.study.planning import (  # noqa: F401
    ALPHA,
    fewest_seeds,
    min_signflip_p,
    sd_upper_limit,
    seeds_needed,
    too_few_seeds,
    underpowered,
)

PROTOCOL_VERSION = 2
EXACT_SIGNFLIP_UP_TO = 16  # seeds: 2^16 sign patterns enumerated; above, Monte Carlo

TOO_FEW = "too few seeds"
INCONCLUSIVE = "inconclusive"
EQUIVALENT = "equivalent (within ±δ)"
BEYOND, WITHIN, UNDECIDED = "(beyond δ)", "(within δ)", "(vs δ undecided)"


def words(better: str | None = "higher") -> tuple[str, ...]:
    """Every word `word` can give for a metric whose `better` direction is given (None: the
    words say higher/lower), with TOO_FEW."""
    up, down = _sides(better)
    sized = [f"{side} {how}" for side in (up, down) for how in (BEYOND, WITHIN, UNDECIDED)]
    return (*sized, EQUIVALENT, INCONCLUSIVE, TOO_FEW)


def _sides(better: str | None) -> tuple[str, str]:
    """The words for a positive and a negative difference (arm − baseline)."""
    if better == "higher":
        return "better", "worse"
    if better == "lower":
        return "worse", "better"
    return "higher", "lower"


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values of ONE family (a section's comparisons, all of them together);
    NaN stays NaN and is not counted in the family."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted, running = np.full(len(p), math.nan), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def holm_levels(pvalues: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """Each comparison's level under Holm's step-down over ONE family of m p-values: the k-th
    smallest (k = 0, 1, ...) is tested at alpha / (m - k) while every smaller one was rejected;
    from the first one not rejected on, every later one keeps that step's level (Holm rejects
    none of them). So p_i <= level_i exactly where Holm rejects, and an interval drawn at
    1 - level_i excludes 0 where its (dual) p is rejected. NaN p: NaN level."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    levels, m, stopped = np.full(len(p), math.nan), len(order), None
    for rank, i in enumerate(order):
        level = alpha / (m - rank) if stopped is None else stopped
        if stopped is None and p[i] > level:
            stopped = level
        levels[i] = level
    return levels.tolist()


def signflip_p(diffs: Sequence[float], n_resamples: int = 9999, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p that the per-seed paired differences are centred on 0:
    the share of sign patterns whose mean is at least as far from 0 as the observed one. Exact
    (every one of 2^n patterns) up to EXACT_SIGNFLIP_UP_TO seeds, else `n_resamples` random
    patterns with the observed one counted: (1 + hits) / (1 + n_resamples)."""
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0:
        return math.nan
    observed = abs(d.mean())
    tolerance = 1e-12 * max(1.0, observed)  # equal means in exact arithmetic count as ties
    if len(d) <= EXACT_SIGNFLIP_UP_TO:
        patterns = np.arange(2 ** len(d))[:, None] >> np.arange(len(d)) & 1
        means = np.abs((2 * patterns - 1) @ d) / len(d)
        return float(np.mean(means >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_resamples, len(d)))
    hits = int(np.sum(np.abs(signs @ d) / len(d) >= observed - tolerance))
    return (1 + hits) / (1 + n_resamples)


def t_p(diffs: Sequence[float]) -> float:
    """The paired t-test's two-sided p over seeds (NaN for fewer than 2; with no spread, 0 when
    the difference is not 0, else 1)."""
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return math.nan
    if d.std(ddof=1) <= 1e-12 * max(1.0, abs(d.mean())):  # no spread, up to rounding
        return 0.0 if d.mean() != 0 else 1.0
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def word(low: float, high: float, delta: float | None, better: str | None = "higher") -> str:
    """The word an interval [low, high] of arm − baseline gives against ±delta (Lakens 2018):
    entirely beyond +delta or -delta: `better (beyond δ)` / `worse (beyond δ)` (a minimum-effect
    test); inside ±delta and excluding 0: `better (within δ)` / `worse (within δ)` (nonzero, and
    shown smaller than δ); inside ±delta with 0: `equivalent (within ±δ)` (TOST); excluding 0
    but neither beyond nor within: `better (vs δ undecided)`; else `inconclusive`. Without a δ:
    better / worse / inconclusive. `better`: the metric's better direction (None: higher/lower)."""
    up, down = _sides(better)
    if not low <= high:  # NaN: nothing to read
        return INCONCLUSIVE
    if delta is None:
        return up if low > 0 else down if high < 0 else INCONCLUSIVE
    if low > delta:
        return f"{up} {BEYOND}"
    if high < -delta:
        return f"{down} {BEYOND}"
    if -delta < low and high < delta:
        return f"{up} {WITHIN}" if low > 0 else f"{down} {WITHIN}" if high < 0 else EQUIVALENT
    return f"{up} {UNDECIDED}" if low > 0 else f"{down} {UNDECIDED}" if high < 0 else INCONCLUSIVE


@dataclass(frozen=True)
class Evidence:
    """One comparison's numbers before its family is corrected. `kind`: "mean" (per-example
    scores: the bootstrap decides) or "count" (runs that did or did not: Barnard decides).
    `p`: the p Holm orders the family by (mean: the bootstrap p, dual to its interval; count:
    Barnard's); `min_p`: the smallest p a distribution-free test could give with these runs
    (sign-flip over seeds; Barnard on the most extreme table); `draws`: the bootstrap
    replicates (mean only)."""

    kind: str
    diff: float
    n_seeds: int
    p: float
    min_p: float
    p_signflip: float = math.nan
    p_t: float = math.nan
    p_fisher: float = math.nan
    draws: np.ndarray | None = None


def mean_evidence(
    arm: np.ndarray,
    baseline: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
    shared_test_set: bool = True,
) -> Evidence:
    """A difference of means (arm − baseline) from per-example arrays (seeds, n_test), or
    per-run scores (seeds,): the two-level bootstrap, and the sign-flip and t p over seeds."""
    draws = bootstrap_differences(arm, baseline, n_boot, seed, shared_test_set)
    a, b = np.asarray(arm, dtype=float), np.asarray(baseline, dtype=float)
    per_seed = (a - b).reshape(a.shape[0], -1).mean(axis=1)
    return Evidence(
        kind="mean",
        diff=float(per_seed.mean()),
        n_seeds=len(per_seed),
        p=bootstrap_p(draws),
        min_p=min_signflip_p(len(per_seed)),
        p_signflip=signflip_p(per_seed, seed=seed),
        p_t=t_p(per_seed),
        draws=draws,
    )


def count_evidence(k_arm: int, n_arm: int, k_base: int, n_base: int) -> Evidence:
    """A count outcome (e.g. runs that diverged: k of n runs per arm) as a 2x2 table: Barnard's
    exact test decides (two independent binomials: the runs of each arm), Fisher's exact p is
    given beside it; `diff` is the difference of the two rates."""
    from scipy import stats

    for k, n in ((k_arm, n_arm), (k_base, n_base)):
        if not (
            isinstance(k, (int, np.integer))
            and isinstance(n, (int, np.integer))
            and 0 <= k <= n
            and n >= 1
        ):
            raise ValueError(f"a count needs 0 <= k <= n and n >= 1 runs; got k={k}, n={n}.")
    table = [[k_arm, n_arm - k_arm], [k_base, n_base - k_base]]
    extreme = [[n_arm, 0], [0, n_base]]
    return Evidence(
        kind="count",
        diff=k_arm / n_arm - k_base / n_base,
        n_seeds=min(n_arm, n_base),
        p=_barnard(table),
        min_p=_barnard(extreme),
        p_fisher=float(stats.fisher_exact(table).pvalue),
    )


def _barnard(table: list[list[int]]) -> float:
    """Barnard's two-sided exact p; a table with an empty column (no run, or every run, had
    the outcome in both arms) carries no evidence: 1."""
    from scipy import stats

    if min(table[0][0] + table[1][0], table[0][1] + table[1][1]) == 0:
        return 1.0
    return float(stats.barnard_exact(table).pvalue)


@dataclass(frozen=True)
class Verdict:
    """One comparison's outcome under protocol v2: its `word`, the difference and the interval
    that decided it (`low`, `high`, drawn at coverage 1 - `level`; NaN for counts, decided by
    their exact test at `level`), Holm's p over the family, and whether it had too few seeds."""

    word: str
    diff: float
    low: float
    high: float
    level: float
    p_holm: float
    too_few_seeds: bool


def decide_family(
    evidence: Sequence[Evidence],
    deltas: Sequence[float | None],
    betters: Sequence[str | None],
    alpha: float = ALPHA,
) -> list[Verdict]:
    """The words of ONE family (a section's comparisons, primary and further ones together):
    Holm's levels from the family's p; each mean comparison's interval at its level read
    against its ±δ (`word`); each count decided by its exact test at its level; a comparison
    whose distribution-free floor (`Evidence.min_p`) exceeds alpha / m says `too few seeds`."""
    m = len(evidence)
    if not len(deltas) == len(betters) == m:
        raise ValueError("give one delta and one better direction per comparison of the family.")
    ps = [e.p for e in evidence]
    levels, adjusted = holm_levels(ps, alpha), holm(ps)
    out = []
    for e, level, p_holm, delta, better in zip(evidence, levels, adjusted, deltas, betters):
        few = e.min_p > alpha / max(1, m)
        if e.kind == "count":
            low = high = math.nan
            up, down = _sides(better)
            said = (up if e.diff > 0 else down) if e.p <= level and e.diff != 0 else INCONCLUSIVE
        else:
            low, high = percentile_interval(e.draws, 1.0 - level)
            said = word(low, high, delta, better)
        out.append(Verdict(TOO_FEW if few else said, e.diff, low, high, level, p_holm, few))
    return out
