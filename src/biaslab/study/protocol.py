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

PROTOCOL_VERSION = 2
ALPHA = 0.05
N_BOOT = 4000
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


def min_signflip_p(n_seeds: int) -> float:
    """The smallest two-sided p a sign-flip test over n seeds can give: 2 / 2^n (all signs one
    way), 1 for no seeds."""
    return 1.0 if n_seeds < 1 else min(1.0, 2.0 / 2**n_seeds)


def too_few_seeds(n_seeds: int, family_size: int, alpha: float = ALPHA) -> bool:
    """No distribution-free test over these seeds can reach Holm's first level alpha / m: even
    when every seed agrees in sign, the sign-flip p 2 / 2^n exceeds it (5 seeds: 0.0625 > 0.05)."""
    return min_signflip_p(n_seeds) > alpha / max(1, family_size)


def fewest_seeds(family_size: int, alpha: float = ALPHA) -> int:
    """The fewest seeds whose sign-flip test can reach alpha / m (6 for m = 1, 8 for m = 6)."""
    n = 1
    while too_few_seeds(n, family_size, alpha):
        n += 1
    return n


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


def sd_upper_limit(sd: float, n: int, level: float = 0.8) -> float:
    """The one-sided `level` upper confidence limit of an SD estimated from n values:
    sd * sqrt((n - 1) / chi2_{1-level, n-1}) (a normal sample's variance is chi-square)."""
    from scipy import stats

    if n < 2:
        raise ValueError(f"an SD's confidence limit needs 2 or more pilot seeds; got {n}.")
    return float(sd * math.sqrt((n - 1) / stats.chi2.ppf(1.0 - level, n - 1)))


def _power(n: int, effect: float, tail: float) -> float:
    """Power of a one-sided paired t-test at level `tail` over n seeds when the true difference
    lies `effect` SDs beyond its null boundary (the noncentral t)."""
    from scipy import stats

    return float(stats.nct.sf(stats.t.ppf(1.0 - tail, n - 1), n - 1, effect * math.sqrt(n)))


def seeds_needed(
    pilot_sd: float,
    n_pilot: int,
    delta: float,
    family_size: int,
    alpha: float = ALPHA,
    power: float = 0.8,
    ucl_level: float = 0.8,
) -> int:
    """The seeds a comparison needs, decided before the run from its declared δ and a pilot's
    SD of paired per-seed differences, never from an observed effect: the SD taken at its
    `ucl_level` upper confidence limit (Browne 1995), the fewest seeds n such that a difference
    lying δ beyond a decision boundary (0, +δ or -δ) crosses it with probability `power` under
    the interval's tail at Holm's strictest step, alpha / (2 m): so a true 0 is shown within
    ±δ on each side, a true δ shown nonzero, a true 2δ shown beyond δ. At least
    `fewest_seeds` (below them no distribution-free test can reach alpha / m)."""
    from scipy import stats

    if not delta > 0 or not pilot_sd >= 0 or family_size < 1:
        raise ValueError("seeds_needed needs delta > 0, pilot_sd >= 0 and a family of 1 or more.")
    floor = max(2, fewest_seeds(family_size, alpha))
    sd, tail = sd_upper_limit(pilot_sd, n_pilot, ucl_level), alpha / (2 * family_size)
    if sd == 0:
        return floor
    effect = delta / sd
    start = ((stats.norm.ppf(1 - tail) + stats.norm.ppf(power)) / effect) ** 2  # z: a lower bound
    n = max(floor, math.floor(start))
    while _power(n, effect, tail) < power:
        n += 1
    return n


def underpowered(
    planned_seeds: int,
    pilot_sd: float,
    n_pilot: int,
    delta: float,
    family_size: int,
    alpha: float = ALPHA,
    power: float = 0.8,
    ucl_level: float = 0.8,
) -> bool:
    """A design (its planned seeds) is underpowered when it plans fewer seeds than
    `seeds_needed` asks: said before the run, at the declared δ, from the pilot alone."""
    need = seeds_needed(pilot_sd, n_pilot, delta, family_size, alpha, power, ucl_level)
    return planned_seeds < need
