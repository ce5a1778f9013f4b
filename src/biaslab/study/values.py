"""The plain values of a preset's declaration (`biaslab.study.spec`): the override texts a
YAML scalar sets, the values a sweeper param sweeps, and the small checks every part of the
declaration shares (a mapping, known keys, a list of names, a δ, a list of seeds), each refusing
bad input in one sentence naming the key and the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from biaslab.errors import ConfigError

# outcomes that are counts (the run diverged or not): tested as counts (Fisher / Barnard), never
# by a t-test or a bootstrap of a mean; protocol-1 presets have them mapped, protocol 2 declares
COUNT_METRICS = frozenset({"diverged"})
EXPECTED = ("higher", "lower", "equivalent", "none")
ARM = "arm"  # the factor that named bundles of overrides make
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")  # a preset's or a bundle's name: a file name
CLAIM_KEYS = ("id", "text", "setup", "would_change", "expected", "seeds", "comparisons")
COMPARISON_KEYS = ("baseline", "metric", "delta", "expected", "at", "pilot")
PILOT_KEYS = ("sd", "seeds")
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
    "pilot",
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


def check_value(said: str, key: str, value: str, factors: Mapping[str, tuple[str, ...]]) -> None:
    """`value` is one of the values `key` takes (a misspelt one is refused)."""
    if not any(same_value(v, value) for v in factors[key]):
        runs = ", ".join(factors[key])
        raise ConfigError(f"{said}: {key} takes {runs}, not {value}; give one of those.")
