"""A preset's declared comparisons (`Comparison`, with its `Pilot`), its `Claim`, its arms as
named bundles of overrides, and the one Holm family the comparisons make (`family_pairs`)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from biaslab.errors import ConfigError
from biaslab.study.values import (
    ARM,
    CLAIM_KEYS,
    COMPARISON_KEYS,
    EXPECTED,
    PILOT_KEYS,
    _delta,
    _known,
    _mapping,
    same_value,
    text_of,
)


@dataclass(frozen=True)
class Pilot:
    """A comparison's pilot, declared before the run (`pilot: {sd: 0.012, seeds: 5}`): the SD
    of its paired per-seed differences on `seeds` pilot seeds (`scripts/pilot.py` prints it).
    The seed rule's ask is read from it (`biaslab.study.plan`), never from an observed effect."""

    sd: float
    seeds: int

    @classmethod
    def from_dict(cls, node: Any, where: str) -> Pilot | None:
        """`where.pilot`, or None where none is declared."""
        if node is None:
            return None
        node = _mapping(node, f"{where}.pilot")
        _known(node, f"{where}.pilot", PILOT_KEYS)
        sd, seeds = node.get("sd"), node.get("seeds")
        if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd >= 0:
            raise ConfigError(
                f"{where}.pilot.sd={sd!r} must be a number >= 0 (the SD of the pilot's paired "
                f"differences, scripts/pilot.py prints it); write {where}.pilot.sd: 0.01."
            )
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
            raise ConfigError(
                f"{where}.pilot.seeds={seeds!r} must be the pilot's seed count, 2 or more; write "
                f"{where}.pilot.seeds: 5."
            )
        return cls(float(sd), seeds)


@dataclass(frozen=True)
class Comparison:
    """One declared comparison: `metric` of every arm against the `baseline` arm (at the same
    values of the other factors, or only at `at`), with its ±`delta`, `expected` direction and
    declared `pilot`.
    `where` is the key it was declared under (`report` for the primary one). Derived: `key` and
    `value` of the baseline arm (`arm` and the bundle name for bundles), `count` (a count
    outcome, tested as a count)."""

    metric: str
    baseline: str
    delta: float | None = None
    expected: str | None = None
    at: Mapping[str, str] = field(default_factory=dict)
    where: str = "report"
    pilot: Pilot | None = None
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
            pilot=Pilot.from_dict(node.get("pilot"), where),
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
