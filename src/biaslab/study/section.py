"""The values a section's verdicts are: plain frozen dataclasses that `biaslab.study.verdicts`
computes from a table of runs and `biaslab.study.render` writes as markdown and charts. They
hold numbers and the rule's words (`protocol.words`), never prose, so one section renders the
same in `report.md` and in `docs/results.md`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Cell = tuple[tuple[str, str], ...]  # an arm: ((factor, value), ...) in the factors' order


def arm_name(arm: Cell) -> str:
    """`k=v,k=v`: an arm as the reports have always named it."""
    return ",".join(f"{k}={v}" for k, v in arm)


@dataclass(frozen=True)
class ArmSummary:
    """One arm's runs described (not compared): per metric its mean and the half-width of a
    95 % interval (`describe`: accuracy counts the test set's binomial error, others are a
    t-interval over seeds); `seeds`: its finished runs."""

    arm: Cell
    seeds: int
    means: dict[str, float] = field(default_factory=dict)
    halves: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return arm_name(self.arm)


@dataclass(frozen=True)
class Comparison:
    """One comparison of the section's family under protocol v2: `metric` of `arm` minus the
    `baseline` arm over `n_seeds` paired seeds. `diff` and the interval [`low`, `high`] that
    decided `word` (coverage 1 − `level`, `level` its Holm step's; NaN for a count, decided by
    its exact test), Holm's `p_holm` over the family, the sign-flip and t p over seeds (means),
    Barnard's and Fisher's p (counts), the declared `delta` and `expected` direction, `better`
    (the metric's better direction), `source` (what was resampled: "seeds × test examples" or
    "seeds"), the per-seed differences (the forest's dots), `too_few` (no distribution-free
    test could reach α/m with these seeds), `underpowered` (fewer seeds than the declared seed
    rule asked for before the run; None: no ask declared), `asked` (that ask), the baseline's
    mean (`base_mean`) and the count outcome's rates (`k_arm/n_arm`, `k_base/n_base`)."""

    metric: str
    arm: Cell
    baseline: Cell
    kind: str
    n_seeds: int
    diff: float
    low: float
    high: float
    level: float
    p_holm: float
    word: str
    delta: float | None
    better: str | None
    expected: str | None = None
    p_signflip: float = math.nan
    p_t: float = math.nan
    p_barnard: float = math.nan
    p_fisher: float = math.nan
    source: str = "seeds"
    per_seed: tuple[float, ...] = ()
    too_few: bool = False
    underpowered: bool | None = None
    asked: int | None = None
    base_mean: float = math.nan
    counts: tuple[int, int, int, int] | None = None

    @property
    def arm_name(self) -> str:
        return arm_name(self.arm)

    @property
    def baseline_name(self) -> str:
        return arm_name(self.baseline)

    @property
    def coverage(self) -> float:
        """The decisive interval's coverage, 1 − level (0.99 for level 0.01)."""
        return 1.0 - self.level

    @property
    def arm_interval(self) -> tuple[float, float]:
        """The decisive interval placed on the arm's own scale: the baseline's mean plus the
        interval of the paired difference (what the per-arm charts draw)."""
        return self.base_mean + self.low, self.base_mean + self.high


@dataclass(frozen=True)
class Section:
    """A preset's (or a sweep's) verdicts under protocol `protocol`: its `arms` in declared
    order and the `comparisons` of its ONE Holm family (every declared comparison; a pair two
    comparisons share counted once). `made_under`: the protocol the runs were made under
    (preset.json's `protocol`, 1 where it records none); `declared`: the runs carry the
    declaration these comparisons come from (else the words are exploratory); `tuning_seeds_
    reused`: its tuning seeds are among the compared seeds (a v2 reading needs new runs)."""

    name: str
    protocol: int
    made_under: int
    declared: bool
    primary: str
    baseline: str | None
    delta: float | None
    factors: tuple[str, ...]
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    metrics: tuple[str, ...]
    counts: tuple[str, ...] = ()
    jobs: int = 0
    failed: int = 0
    n_boot: int = 0
    tuning_seeds_reused: bool = False
    seeds_asked: int | None = None

    @property
    def family_size(self) -> int:
        """The size of the section's one Holm family: its comparisons, each counted once."""
        return len(self.comparisons)

    def of_metric(self, metric: str) -> tuple[Comparison, ...]:
        """The family's comparisons on `metric`, in the family's order."""
        return tuple(c for c in self.comparisons if c.metric == metric)

    def arm(self, cell: Cell) -> ArmSummary | None:
        """The summary of arm `cell`, None where it has no finished run."""
        return next((a for a in self.arms if a.arm == cell), None)
