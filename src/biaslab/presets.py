"""Compatibility: the preset runner moved to `biaslab.study` (compose: name, config and typed
declaration; plan: which runs; runner: the only part that starts processes; publish: --fresh,
--publish, the W&B report; listing: --list). These names stay importable from here until
nothing imports them."""

from __future__ import annotations

from biaslab.study.compose import (
    ROOT,
    check_declaration,
    check_preset_name,
    declaration_hash,
    machine,
    preset_config,
    preset_dir,
    preset_names,
    preset_of,
    refuse_sweeps,
    said,
    yaml_of,
)
from biaslab.study.listing import listing
from biaslab.study.publish import log_report, publish_files, set_aside
from biaslab.study.runner import run_preset

__all__ = [
    "ROOT",
    "check_declaration",
    "check_preset_name",
    "declaration_hash",
    "listing",
    "log_report",
    "machine",
    "preset_config",
    "preset_dir",
    "preset_names",
    "preset_of",
    "publish_files",
    "refuse_sweeps",
    "run_preset",
    "said",
    "set_aside",
    "yaml_of",
]
