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
from biaslab.study.parts import Claim, Comparison, Pilot, _bundles, family_pairs
from biaslab.study.settings import ReportSpec, TuneSpec
from biaslab.study.values import (
    ARM,
    COUNT_METRICS,
    EXPECTED,
    NAME,
    _mapping,
    check_value,
    same_value,
    sweep_values,
    text_of,
)

__all__ = [
    "ARM",
    "COUNT_METRICS",
    "EXPECTED",
    "NAME",
    "Claim",
    "Comparison",
    "Pilot",
    "Preset",
    "ReportSpec",
    "TuneSpec",
    "family_pairs",
    "same_value",
    "sweep_values",
    "text_of",
]


@dataclass(frozen=True)
class Preset:
    """A preset's declaration: its `claim` (None: exploratory), `report`, `tune`, the swept
    keys (`swept`: `hydra.sweeper.params`, seed included) and the named `bundles` (`arms:`).
    Derived once: `factors` (what an arm is made of: the swept keys but seed, and `arm` for
    bundles), `seeds` (the compared seeds), `comparisons` (the primary one, then the claim's),
    `counts` (the count outcomes), `pairs` and `family_size` (the section's one Holm family)
    `tuning_seeds` (protocol 2: apart from the compared ones) and `tuning_seeds_reused`
    (protocol 1 only: v2 refuses it)."""

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
    tuning_seeds: tuple[int, ...] = field(init=False)
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
            self.tune.check_against(derive["factors"], self.swept)
        derive["counts"] = self._counts(derive["comparisons"])
        tuning = derive["tuning_seeds"] = self._tuning_seeds(derive["seeds"])
        reused = bool(set(tuning) & set(derive["seeds"]))
        if reused and self.protocol == 2:
            both = sorted(set(tuning) & set(derive["seeds"]))
            raise ConfigError(
                f"tune.seeds {list(tuning)} share seed {both[0]} with the compared seeds "
                "(hydra.sweeper.params.seed); under protocol 2 tune on other seeds, e.g. "
                f"tune.seeds: [{', '.join(str(1000 + s) for s in tuning)}]."
            )
        derive["tuning_seeds_reused"] = reused
        derive["pairs"] = family_pairs(derive["comparisons"], derive["factors"])
        derive["family_size"] = len(derive["pairs"])
        for name, value in derive.items():
            object.__setattr__(self, name, value)

    def _tuning_seeds(self, compared: tuple[int, ...]) -> tuple[int, ...]:
        """The seeds tuning runs on: `tune.seeds`; under protocol 2 where none are declared,
        as many seeds past the compared ones (tuning never sees a compared seed)."""
        if not self.tune:
            return ()
        if self.protocol == 2 and not self.tune.seeds_declared:
            start = max(compared, default=-1) + 1
            return tuple(range(start, start + len(self.tune.seeds)))
        return self.tune.seeds

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
        check_value(said, c.key, c.value, factors)
        for key, value in c.at.items():
            if key not in factors or key == c.key:
                raise ConfigError(
                    f"{c.where}.at.{key} is not another varied key ({swept}); fix at: to name "
                    "only keys the preset varies, other than the baseline's."
                )
            check_value(f"{c.where}.at.{key}={value}", key, value, factors)
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
