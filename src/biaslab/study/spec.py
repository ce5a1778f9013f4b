"""One typed declaration of a preset (`conf/experiment/<name>.yaml`): `Preset` and its parts
`Claim`, `Comparison`, `TuneSpec` and `ReportSpec`, built once from the YAML (the YAML stays the
source) and checked once, in `__post_init__`, like litgpt's `Config`: every value the study
needs later (the arms, the seeds, the comparisons, the Holm family's size) is derived here, so
no other module reads the raw dict again.

Two forms of arms:

- swept keys (today's form): `hydra.sweeper.params` sweeps `optimizer: sgd,adam` and
  `seed: range(20)`; a baseline is `key=value` of a swept key (`optimizer=sgd`);
- named bundles of overrides (protocol 2): `arms: {none: [augment=none], mixup: [augment=mixup,
  loss.mix=0.2]}`; the arms are one factor, `arm`, and a baseline names a bundle (`none` or
  `arm=none`). Other swept keys cross with the bundles.

A preset declares `protocol: 2` to be held to protocol v2 (`docs/protocol.md`); the presets
written before it are protocol 1 and parse with today's meaning: their tuning seeds may be
among the compared seeds (`Preset.tuning_seeds_reused` says so) and `diverged` is read as a
count without being declared one. Every error is one sentence naming the key and the fix
(`biaslab.errors.ConfigError`), prefixed with the file it came from.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError

# outcomes that are counts (the run diverged or not): tested as counts (Fisher / Barnard), never
# by a t-test or a bootstrap of a mean; protocol-1 presets have them mapped, protocol 2 declares
COUNT_METRICS = frozenset({"diverged"})
EXPECTED = ("higher", "lower", "equivalent", "none")
ARM = "arm"  # the factor that named bundles of overrides make
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")  # a preset's or a bundle's name: a file name
CLAIM_KEYS = ("id", "text", "setup", "would_change", "expected", "seeds", "comparisons")
COMPARISON_KEYS = ("baseline", "metric", "delta", "expected", "at")
TUNE_KEYS = ("grid", "seeds", "metric", "goal", "tie", "over", "at", "widen")
REPORT_KEYS = (
    "primary",
    "baseline",
    "delta",
    "metrics",
    "counts",
    "curves",
    "loglog",
    "full_size",
    "target_loss",
)


def text_of(value: Any) -> str:
    """A YAML scalar as the override text that sets it (`null`, `true`, `0.01`, `sgd`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def same_value(a: str, b: str) -> bool:
    """Two override texts that set the same value: equal text, `false`/`False`, `0.0`/`0`."""
    if a == b or a.lower() == b.lower() in ("true", "false", "null", "none"):
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def sweep_values(key: str, value: Any) -> tuple[str, ...]:
    """The values a sweeper param sweeps: `a,b,c`, `range(5)`, `range(2,8,2)`, `choice(a,b)`, a
    YAML list, or one value; each as override text. Other sweep syntax is refused by name."""
    if isinstance(value, list):
        return tuple(text_of(v) for v in value)
    text = text_of(value)
    ranged = re.fullmatch(r"range\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(-?\d+)\s*)?\)", text)
    if ranged:
        bounds = [int(g) for g in ranged.groups() if g is not None]
        values = tuple(str(i) for i in range(*bounds))
    else:
        chosen = re.fullmatch(r"choice\((.*)\)", text)
        inner = chosen[1] if chosen else text
        if re.search(r"[\[\]{}()'\"]", inner):
            raise ConfigError(
                f"hydra.sweeper.params.{key}={text} is sweep syntax the study layer does not read; "
                "write the values as a,b,c or range(n)."
            )
        values = tuple(v.strip() for v in inner.split(","))
    if not values or "" in values:
        raise ConfigError(
            f"hydra.sweeper.params.{key}={text} sweeps an empty value; write the values as a,b,c."
        )
    return values


def _mapping(node: Any, key: str) -> dict[str, Any]:
    """`node` as a dict (None: empty), or one sentence saying `key` must be a mapping."""
    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise ConfigError(f"{key} is a {type(node).__name__}; write it as a mapping (key: value).")
    return dict(node)


def _known(node: Mapping[str, Any], key: str, known: tuple[str, ...]) -> None:
    """Refuse a misspelt key under `key` (`report.basline`) with the keys it may have."""
    unknown = sorted(set(node) - set(known))
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]} is not a key of {key}; use one of {', '.join(known)}."
        )


def _texts(value: Any, key: str) -> tuple[str, ...]:
    """A list of names (`report.metrics`); None is empty; a bare string is refused."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}={value!r} must be a list of names; write {key}: [name, ...].")
    return tuple(value)


def _delta(value: Any, key: str) -> float | None:
    """A declared ±δ: None, or a number > 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(
            f"{key}={value!r} must be a number > 0 (the smallest difference that matters); "
            f"write {key}: 0.01."
        )
    return float(value)


def _seed_list(value: Any, key: str) -> tuple[int, ...]:
    """Seeds: distinct non-negative integers."""
    seeds = value if isinstance(value, (list, tuple)) else [value]
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"{key}={value!r} must be a list of seeds >= 0; write {key}: [0, 1].")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{key}={value!r} repeats a seed; list each seed once.")
    return tuple(seeds)


@dataclass(frozen=True)
class Comparison:
    """One declared comparison: `metric` of every arm against the `baseline` arm (at the same
    values of the other factors, or only at `at`), with its ±`delta` and `expected` direction.
    `where` is the key it was declared under (`report` for the primary one). Derived: `key` and
    `value` of the baseline arm (`arm` and the bundle name for bundles), `count` (a count
    outcome, tested as a count)."""

    metric: str
    baseline: str
    delta: float | None = None
    expected: str | None = None
    at: Mapping[str, str] = field(default_factory=dict)
    where: str = "report"
    key: str = field(init=False)
    value: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"{self.where}.metric={self.metric!r} must name a metric (test/acc).")
        if not isinstance(self.baseline, str) or not self.baseline.strip():
            raise ConfigError(
                f"{self.where}.baseline={self.baseline!r} must name the baseline arm "
                "(key=value of a swept key, or a bundle's name under arms:)."
            )
        _delta(self.delta, f"{self.where}.delta")
        if self.expected is not None and self.expected not in EXPECTED:
            raise ConfigError(
                f"{self.where}.expected={self.expected!r} is not a direction; write one of "
                f"{', '.join(EXPECTED)}."
            )
        key, _, value = self.baseline.partition("=")
        key, value = (key.strip(), value.strip()) if value else (ARM, key.strip())
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)
        object.__setattr__(
            self, "at", {k: text_of(v) for k, v in _mapping(self.at, f"{self.where}.at").items()}
        )

    @classmethod
    def from_dict(cls, node: Any, where: str) -> Comparison:
        """One entry of `claim.comparisons` (a mapping with baseline, metric, delta...)."""
        if not isinstance(node, Mapping):
            raise ConfigError(
                f"{where} is a {type(node).__name__}; write it as {{baseline: ..., metric: ..., "
                "delta: ...}."
            )
        _known(node, where, COMPARISON_KEYS)
        for needed in ("baseline", "metric"):
            if needed not in node:
                raise ConfigError(f"{where} has no {needed}; add {needed}: to it.")
        return cls(
            metric=node["metric"],
            baseline=text_of(node["baseline"]),
            delta=node.get("delta"),
            expected=None if node.get("expected") is None else text_of(node["expected"]),
            at=node.get("at") or {},
            where=where,
        )


@dataclass(frozen=True)
class Claim:
    """`claim:`, declared before any run: the words the results may speak of. The prose fields
    stay prose; `comparisons` are the further ones (one Holm family with the primary one).
    Derived: `seeds_asked`, the seeds the declaration's pilot asked for ("asks for N")."""

    id: str
    text: str
    setup: str = ""
    would_change: str = ""
    expected: str = ""
    seeds: str = ""
    comparisons: tuple[Comparison, ...] = ()
    seeds_asked: int | None = field(init=False)

    def __post_init__(self) -> None:
        for name in ("id", "text"):
            if not str(getattr(self, name) or "").strip():
                raise ConfigError(f"claim.{name} is empty; declare it (claim.{name}: ...).")
        found = re.search(r"asks\s+for\s+(\d+)", self.seeds)
        object.__setattr__(self, "seeds_asked", int(found[1]) if found else None)

    @classmethod
    def from_dict(cls, node: Any) -> Claim:
        node = _mapping(node, "claim")
        _known(node, "claim", CLAIM_KEYS)
        more = node.get("comparisons")
        if more is not None and not isinstance(more, list):
            raise ConfigError(
                f"claim.comparisons is a {type(more).__name__} ({more!r}); write it as a list of "
                "mappings: - {baseline: optimizer=sgd, metric: test/acc, delta: 0.01}."
            )
        return cls(
            **{k: text_of(node[k]) for k in CLAIM_KEYS[:-1] if k in node},
            comparisons=tuple(
                Comparison.from_dict(c, f"claim.comparisons[{i}]") for i, c in enumerate(more or [])
            ),
        )


@dataclass(frozen=True)
class TuneSpec:
    """`tune:`: each arm's value of the `grid` keys picked on `seeds` by `metric` (`goal` max or
    min), values within `tie` of the best tied (a number, or `noise`: sized from the tuning
    seeds' spread), per value of the `over` keys (all factors when None) with the other factors
    held at `at`, the grid widened past an edge pick up to `widen` times."""

    grid: Mapping[str, tuple[str, ...]]
    seeds: tuple[int, ...] = (0,)
    metric: str = "val/acc_best"
    goal: str = "max"
    tie: float | str = 0.002
    over: tuple[str, ...] | None = None
    at: Mapping[str, str] = field(default_factory=dict)
    widen: int = 2

    def __post_init__(self) -> None:
        if not self.grid or any(not values for values in self.grid.values()):
            raise ConfigError(
                "tune.grid is empty; give each tuned key its values (optimizer.lr: [0.1, 0.01])."
            )
        if self.goal not in ("max", "min"):
            raise ConfigError(f"tune.goal={self.goal!r}: choose max or min.")
        tie_ok = self.tie == "noise" or (
            isinstance(self.tie, (int, float)) and not isinstance(self.tie, bool) and self.tie >= 0
        )
        if not tie_ok:
            raise ConfigError(f"tune.tie={self.tie!r}: give a number >= 0 or noise.")
        if self.tie == "noise" and len(self.seeds) < 2:
            raise ConfigError(
                "tune.tie=noise needs 2 or more tune.seeds; write tune.seeds: [0, 1]."
            )
        if isinstance(self.widen, bool) or not isinstance(self.widen, int) or self.widen < 0:
            raise ConfigError(
                f"tune.widen={self.widen!r} must be an integer >= 0; write tune.widen: 2."
            )

    @classmethod
    def from_dict(cls, node: Any) -> TuneSpec:
        node = _mapping(node, "tune")
        _known(node, "tune", TUNE_KEYS)
        grid = _mapping(node.get("grid"), "tune.grid")
        for key, values in grid.items():
            if not isinstance(values, list):
                raise ConfigError(
                    f"tune.grid.{key}={values!r} must be a list; write {key}: [a, b]."
                )
        return cls(
            grid={k: tuple(text_of(v) for v in values) for k, values in grid.items()},
            seeds=_seed_list(node.get("seeds", [0]), "tune.seeds"),
            metric=text_of(node.get("metric", "val/acc_best")),
            goal=text_of(node.get("goal", "max")),
            tie=node.get("tie", 0.002),
            over=None if node.get("over") is None else _texts(node["over"], "tune.over"),
            at={k: text_of(v) for k, v in _mapping(node.get("at"), "tune.at").items()},
            widen=node.get("widen", 2),
        )


@dataclass(frozen=True)
class ReportSpec:
    """`report:`: the primary comparison (`primary` metric against `baseline`, ±`delta`), the
    further columns and charts (`metrics`, `curves`, `loglog`, `full_size`, `target_loss`) and
    the count outcomes (`counts`, e.g. diverged: tested as counts)."""

    primary: str = "test/acc"
    baseline: str | None = None
    delta: float | None = None
    metrics: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()
    curves: tuple[str, ...] = ()
    loglog: tuple[str, ...] | None = None
    full_size: Mapping[str, Any] | None = None
    target_loss: float | None = None

    def __post_init__(self) -> None:
        _delta(self.delta, "report.delta")
        if self.loglog is not None and len(self.loglog) != 2:
            raise ConfigError(
                f"report.loglog={list(self.loglog)} must name two keys, x then y; write "
                "report.loglog: [data.length, time/step_ms]."
            )

    @classmethod
    def from_dict(cls, node: Any) -> ReportSpec:
        node = _mapping(node, "report")
        _known(node, "report", REPORT_KEYS)
        loglog = node.get("loglog")
        return cls(
            primary=text_of(node.get("primary") or "test/acc"),
            baseline=None if node.get("baseline") is None else text_of(node["baseline"]),
            delta=node.get("delta"),
            metrics=_texts(node.get("metrics"), "report.metrics"),
            counts=_texts(node.get("counts"), "report.counts"),
            curves=_texts(node.get("curves"), "report.curves"),
            loglog=None if loglog is None else _texts(loglog, "report.loglog"),
            full_size=node.get("full_size"),
            target_loss=node.get("target_loss"),
        )

    @property
    def comparison(self) -> Comparison | None:
        """The primary comparison, where a baseline is declared."""
        if self.baseline is None:
            return None
        return Comparison(self.primary, self.baseline, self.delta, where="report")


def _bundles(node: Any) -> dict[str, tuple[str, ...]]:
    """`arms:` as {bundle name: (override, ...)}: each bundle a list of key=value texts."""
    bundles = _mapping(node, "arms")
    for name, overrides in bundles.items():
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ConfigError(
                f"arms.{name}={overrides!r} must be a list of overrides; write {name}: "
                "[key=value, ...]."
            )
    return {str(name): tuple(o.strip() for o in overrides) for name, overrides in bundles.items()}


def family_pairs(
    comparisons: tuple[Comparison, ...], factors: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[str, frozenset, frozenset], ...]:
    """Every test the comparisons make, once: (metric, arm, baseline arm), each arm a frozenset
    of (factor, value). An arm is compared with the baseline arm at the same values of the other
    factors (only at `at` where given); a pair two comparisons share on one metric counts once,
    so the Holm family of a section is this tuple's length."""
    seen: dict[tuple[str, frozenset, frozenset], None] = {}
    for c in comparisons:
        others = {k: v for k, v in factors.items() if k != c.key}
        for k, v in c.at.items():
            others[k] = tuple(x for x in factors[k] if same_value(x, v))
        base = next(v for v in factors[c.key] if same_value(v, c.value))
        for combo in itertools.product(*others.values()):
            cell = dict(zip(others, combo))
            for value in factors[c.key]:
                if value != base:
                    arm = frozenset({**cell, c.key: value}.items())
                    seen[(c.metric, arm, frozenset({**cell, c.key: base}.items()))] = None
    return tuple(seen)


@dataclass(frozen=True)
class Preset:
    """A preset's declaration: its `claim` (None: exploratory), `report`, `tune`, the swept
    keys (`swept`: `hydra.sweeper.params`, seed included) and the named `bundles` (`arms:`).
    Derived once: `factors` (what an arm is made of: the swept keys but seed, and `arm` for
    bundles), `seeds` (the compared seeds), `comparisons` (the primary one, then the claim's),
    `counts` (the count outcomes), `pairs` and `family_size` (the section's one Holm family)
    and `tuning_seeds_reused` (protocol 1 only: v2 refuses it)."""

    name: str
    protocol: int = 1
    claim: Claim | None = None
    report: ReportSpec | None = None
    tune: TuneSpec | None = None
    swept: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bundles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclusive: bool = False
    factors: Mapping[str, tuple[str, ...]] = field(init=False)
    seeds: tuple[int, ...] = field(init=False)
    comparisons: tuple[Comparison, ...] = field(init=False)
    counts: frozenset[str] = field(init=False)
    pairs: tuple[tuple[str, frozenset, frozenset], ...] = field(init=False)
    family_size: int = field(init=False)
    tuning_seeds_reused: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.protocol not in (1, 2):
            raise ConfigError(f"protocol={self.protocol!r} is not a protocol; write protocol: 2.")
        derive = {"factors": self._factors(), "seeds": self._seeds()}
        primary = self.report.comparison if self.report else None
        comparisons = (primary,) if primary else ()
        derive["comparisons"] = comparisons + (self.claim.comparisons if self.claim else ())
        for c in derive["comparisons"]:
            self._check_comparison(c, derive["factors"])
        if self.tune:
            self._check_tune(derive["factors"])
        derive["counts"] = self._counts(derive["comparisons"])
        reused = bool(self.tune and set(self.tune.seeds) & set(derive["seeds"]))
        if reused and self.protocol == 2:
            both = sorted(set(self.tune.seeds) & set(derive["seeds"]))
            raise ConfigError(
                f"tune.seeds {list(self.tune.seeds)} share seed {both[0]} with the compared seeds "
                "(hydra.sweeper.params.seed); under protocol 2 tune on other seeds, e.g. "
                f"tune.seeds: [{', '.join(str(1000 + s) for s in self.tune.seeds)}]."
            )
        derive["tuning_seeds_reused"] = reused
        derive["pairs"] = family_pairs(derive["comparisons"], derive["factors"])
        derive["family_size"] = len(derive["pairs"])
        for name, value in derive.items():
            object.__setattr__(self, name, value)

    def _factors(self) -> dict[str, tuple[str, ...]]:
        """The swept keys but seed, and `arm` (the bundles' names) where bundles are declared."""
        factors = {k: v for k, v in self.swept.items() if k != "seed"}
        if not self.bundles:
            return factors
        if ARM in factors:
            raise ConfigError(
                f"hydra.sweeper.params.{ARM} clashes with arms: (the bundles make the factor "
                f"{ARM}); rename the swept key or drop the bundles."
            )
        if len(self.bundles) < 2:
            raise ConfigError("arms: declares one bundle; a comparison needs two or more arms.")
        for name, overrides in self.bundles.items():
            self._check_bundle(name, overrides)
        return {**factors, ARM: tuple(self.bundles)}

    def _check_bundle(self, name: str, overrides: tuple[str, ...]) -> None:
        """A bundle's name is a file name; its overrides are key=value of keys nothing sweeps."""
        if not NAME.fullmatch(name):
            raise ConfigError(
                f"arms.{name} is not a usable arm name (letters, digits, _ . + -); rename it."
            )
        for override in overrides:
            key, eq, _ = override.partition("=")
            if not eq or not key.strip() or " " in key.strip():
                raise ConfigError(
                    f"arms.{name} has {override!r}, which is not an override; write key=value."
                )
            if key.strip() in self.swept:
                raise ConfigError(
                    f"arms.{name} sets {key.strip()}, which hydra.sweeper.params also sweeps; set "
                    "it in the bundles or in the sweep, not both."
                )

    def _seeds(self) -> tuple[int, ...]:
        """The compared seeds (`hydra.sweeper.params.seed`), as integers."""
        texts = self.swept.get("seed", ())
        if not all(re.fullmatch(r"\d+", s) for s in texts):
            raise ConfigError(
                f"hydra.sweeper.params.seed={','.join(texts)} must be seeds >= 0; write range(10)."
            )
        return tuple(int(s) for s in texts)

    def _check_comparison(self, c: Comparison, factors: Mapping[str, tuple[str, ...]]) -> None:
        """The baseline names an arm this preset runs; `at` fixes other factors to run values;
        under protocol 2 a declared comparison of a mean has its δ."""
        said = f"{c.where}.baseline={c.baseline}"
        swept = ", ".join(factors) or "nothing"
        if c.key == ARM and ARM not in factors:
            raise ConfigError(
                f"{said} names no arm; write key=value of a swept key ({swept}) or declare the "
                "arms as bundles (arms: {name: [key=value, ...]})."
            )
        if c.key not in factors:
            raise ConfigError(
                f"{said}: {c.key} is not an arm's key (this preset varies {swept}); name one of them."
            )
        self._check_value(said, c.key, c.value, factors)
        for key, value in c.at.items():
            if key not in factors or key == c.key:
                raise ConfigError(
                    f"{c.where}.at.{key} is not another varied key ({swept}); fix at: to name "
                    "only keys the preset varies, other than the baseline's."
                )
            self._check_value(f"{c.where}.at.{key}={value}", key, value, factors)
        if (
            self.protocol == 2
            and self.claim
            and c.delta is None
            and c.metric not in self._declared_counts()
        ):
            raise ConfigError(
                f"{c.where}.delta is missing; under protocol 2 a declared comparison needs its ±δ "
                f"(the smallest difference that matters), e.g. {c.where}.delta: 0.01."
            )

    @staticmethod
    def _check_value(
        said: str, key: str, value: str, factors: Mapping[str, tuple[str, ...]]
    ) -> None:
        """`value` is one of the values `key` takes (a misspelt one is refused)."""
        if not any(same_value(v, value) for v in factors[key]):
            runs = ", ".join(factors[key])
            raise ConfigError(f"{said}: {key} takes {runs}, not {value}; give one of those.")

    def _declared_counts(self) -> frozenset[str]:
        return frozenset(self.report.counts) if self.report else frozenset()

    def _counts(self, comparisons: tuple[Comparison, ...]) -> frozenset[str]:
        """The count outcomes: those declared (`report.counts`); under protocol 1 also the known
        ones (`COUNT_METRICS`) a comparison or report.metrics names; protocol 2 must declare."""
        named = {c.metric for c in comparisons}
        if self.report:
            named |= {self.report.primary, *self.report.metrics}
        undeclared = sorted((named & COUNT_METRICS) - self._declared_counts())
        if undeclared and self.protocol == 2:
            raise ConfigError(
                f"{undeclared[0]} is a count (per run: yes or no) that report.counts does not "
                f"declare; add report.counts: [{undeclared[0]}] so it is tested as a count."
            )
        return self._declared_counts() | frozenset(undeclared)

    def _check_tune(self, factors: Mapping[str, tuple[str, ...]]) -> None:
        """`tune.over` names varied keys, `tune.at` holds every other one, the grid sweeps
        nothing the preset sweeps."""
        over = self.tune.over if self.tune.over is not None else tuple(factors)
        for key in over:
            if key not in factors:
                raise ConfigError(
                    f"tune.over names {key}, which the preset does not vary ({', '.join(factors)}); "
                    "name varied keys only."
                )
        held = sorted(set(factors) - set(over))
        if sorted(self.tune.at) != held:
            raise ConfigError(
                f"tune.at gives {sorted(self.tune.at)} where it must give one value for each varied "
                f"key outside tune.over ({held}); fix tune.at."
            )
        for key, value in self.tune.at.items():
            self._check_value(f"tune.at.{key}={value}", key, value, factors)
        clash = sorted(set(self.tune.grid) & (set(self.swept) | {ARM}))
        if clash:
            raise ConfigError(
                f"tune.grid.{clash[0]} is also swept by the preset; tune a key the arms do not set."
            )

    @property
    def arms(self) -> tuple[dict[str, str], ...]:
        """Every arm: one value of each factor (the product of the factors)."""
        return tuple(
            dict(zip(self.factors, values)) for values in itertools.product(*self.factors.values())
        )

    @classmethod
    def from_dict(cls, name: str, node: Any, source: str = "") -> Preset:
        """The declaration in a preset's parsed YAML; errors name `source` (the file)."""
        try:
            node = _mapping(node, name)
            sweeper = _mapping(_mapping(node.get("hydra"), "hydra").get("sweeper"), "hydra.sweeper")
            params = _mapping(sweeper.get("params"), "hydra.sweeper.params")
            return cls(
                name=name,
                protocol=node.get("protocol", 1),
                claim=Claim.from_dict(node["claim"]) if node.get("claim") is not None else None,
                report=ReportSpec.from_dict(node["report"])
                if node.get("report") is not None
                else None,
                tune=TuneSpec.from_dict(node["tune"]) if node.get("tune") is not None else None,
                swept={str(k): sweep_values(str(k), v) for k, v in params.items()},
                bundles=_bundles(node.get("arms")),
                exclusive=bool(node.get("exclusive", False)),
            )
        except ConfigError as err:
            raise ConfigError(f"{source or name}: {err}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> Preset:
        """A preset from its YAML file (the file's stem is its name)."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"{path} is not a file; pass a preset's YAML (conf/experiment/NAME.yaml)."
            )
        try:
            node = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{path} is not valid YAML{where}; fix its syntax.") from None
        return cls.from_dict(path.stem, node, str(path))

    @classmethod
    def from_name(cls, name: str, root: str | Path) -> Preset:
        """Preset `name` of `root`/conf/experiment; a name is a name, never a path."""
        folder = Path(root) / "conf" / "experiment"
        path = folder / f"{name}.yaml"
        if not NAME.fullmatch(name) or not path.is_file():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
            raise ConfigError(f"{name!r} is not a preset in {folder}; pass one of: {known}.")
        return cls.from_yaml(path)
