"""Protocol v2's seed floors and its seed rule (`docs/protocol.md`, rules 5 and 6): the fewest
seeds a distribution-free test needs to reach a Holm level, and the seeds a comparison needs at
its declared δ from a pilot's SD taken at its upper confidence limit (Browne 1995), decided
before any run, never from an observed effect. Pure functions on numbers."""

from __future__ import annotations

import math

ALPHA = 0.05


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
