"""Compatibility: tuning moved to `biaslab.study.tuning` (a pure function: a table of scores ->
a pick per arm by its tie rule) and `biaslab.study.runner` (the tuning sweeps). These names stay
importable from here until nothing imports them."""

from __future__ import annotations

from biaslab.study.compose import ROOT
from biaslab.study.plan import QUIET
from biaslab.study.render import tie_words  # prose: rendering's
from biaslab.study.tuning import (
    NOISE_Z,
    arm_slug,
    beyond_edge,
    noise_tie,
    pick,
    to_widen,
)

_arm_slug = arm_slug  # the old private name (tests/test_names.py)

__all__ = [
    "NOISE_Z",
    "QUIET",
    "ROOT",
    "arm_slug",
    "beyond_edge",
    "noise_tie",
    "pick",
    "tie_words",
    "to_widen",
]
