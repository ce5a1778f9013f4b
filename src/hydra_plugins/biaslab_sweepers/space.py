"""The Optuna sweeper's search space: Hydra's sweep syntax -> Optuna distributions (the old
`hydra-optuna-sweeper`'s mapping), and values back into Hydra override syntax; refusals in one
sentence, as the lab's commands give them."""

import logging
import os
import sys
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer

log = logging.getLogger(__name__)


def distribution(override: Override):
    """Hydra's sweep syntax -> an Optuna distribution (the old plugin's mapping)."""
    import optuna.distributions as D

    value = override.value()
    if isinstance(value, IntervalSweep | RangeSweep):
        low, high = (
            (value.start, value.end)
            if isinstance(value, IntervalSweep)
            else (value.start, value.stop)
        )
        if low is not None and high is not None and low > high:
            _refuse(
                f"{override.get_key_element()}={override.input_line.split('=', 1)[1]} has its "
                f"bounds the wrong way round; pass them low first ({high}, {low})."
            )
    if isinstance(value, IntervalSweep):
        log_scale = "log" in (value.tags or set())
        if isinstance(value.start, int) and isinstance(value.end, int):
            return D.IntDistribution(value.start, value.end, log=log_scale)
        return D.FloatDistribution(float(value.start), float(value.end), log=log_scale)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if all(isinstance(v, int) for v in (start, stop, step)):
            return D.IntDistribution(start, stop - step, step=step)
        return D.FloatDistribution(float(start), float(stop - step), step=float(step))
    choices = list(override.sweep_iterator(transformer=Transformer.encode))
    return D.CategoricalDistribution(choices)


def search_space(
    params: dict[str, Any] | None, arguments: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """({key: distribution}, fixed overrides) from the config's params and the command line
    (the command line wins for a key given in both)."""
    parser = OverridesParser.create()
    pairs = [f"{k}={v}" for k, v in (params or {}).items()]
    overrides = {o.get_key_element(): o for o in parser.parse_overrides([*pairs, *arguments])}
    space = {k: distribution(o) for k, o in overrides.items() if o.is_sweep_override()}
    fixed = [o.input_line for o in overrides.values() if not o.is_sweep_override()]
    return space, fixed


def _refuse(sentence: str, code: int = 2) -> None:
    """One sentence on stderr and an exit code, as the lab's commands do (HYDRA_FULL_ERROR=1:
    raise, for the whole stack)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise ValueError(sentence)
    print(f"Error: {sentence}", file=sys.stderr, flush=True)
    sys.exit(code)


def _hydra_value(value: Any) -> str:
    """A Python value as Hydra override syntax (dicts, lists, quoted strings, numbers, null)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)
