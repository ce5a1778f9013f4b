"""The tuning stage's and the report's declarations: `TuneSpec` (`tune:`) and `ReportSpec`
(`report:`), each built from its YAML node and checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from biaslab.errors import ConfigError
from biaslab.study.parts import Comparison, Pilot
from biaslab.study.values import (
    ARM,
    REPORT_KEYS,
    TUNE_KEYS,
    _delta,
    _known,
    _mapping,
    _seed_list,
    _texts,
    check_value,
    text_of,
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
    seeds_declared: bool = True

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
            seeds_declared="seeds" in node,
            metric=text_of(node.get("metric", "val/acc_best")),
            goal=text_of(node.get("goal", "max")),
            tie=node.get("tie", 0.002),
            over=None if node.get("over") is None else _texts(node["over"], "tune.over"),
            at={k: text_of(v) for k, v in _mapping(node.get("at"), "tune.at").items()},
            widen=node.get("widen", 2),
        )

    def check_against(
        self, factors: Mapping[str, tuple[str, ...]], swept: Mapping[str, tuple[str, ...]]
    ) -> None:
        """`tune.over` names varied keys (`factors`), `tune.at` holds every other one, the grid
        sweeps nothing the preset sweeps (`swept`) or its bundles set."""
        over = self.over if self.over is not None else tuple(factors)
        for key in over:
            if key not in factors:
                raise ConfigError(
                    f"tune.over names {key}, which the preset does not vary ({', '.join(factors)}); "
                    "name varied keys only."
                )
        held = sorted(set(factors) - set(over))
        if sorted(self.at) != held:
            raise ConfigError(
                f"tune.at gives {sorted(self.at)} where it must give one value for each varied "
                f"key outside tune.over ({held}); fix tune.at."
            )
        for key, value in self.at.items():
            check_value(f"tune.at.{key}={value}", key, value, factors)
        clash = sorted(set(self.grid) & (set(swept) | {ARM}))
        if clash:
            raise ConfigError(
                f"tune.grid.{clash[0]} is also swept by the preset; tune a key the arms do not set."
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
    pilot: Pilot | None = None

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
            pilot=Pilot.from_dict(node.get("pilot"), "report"),
        )

    @property
    def comparison(self) -> Comparison | None:
        """The primary comparison, where a baseline is declared."""
        if self.baseline is None:
            return None
        return Comparison(self.primary, self.baseline, self.delta, where="report", pilot=self.pilot)
