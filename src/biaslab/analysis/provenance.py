"""Where and when a sweep's runs were made, from its own files: a preset's `preset.json`, or for
a plain sweep the runs' own records (their provenance, and the times their files were written)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from biaslab.run.files import RunDir


def _records(frame) -> tuple[set, set, list, list]:
    """(commits, devices, start times, end times) from the runs' own files."""
    commits, devices, started, ended = set(), set(), [], []
    for run_dir in frame.get("run_dir", []):
        run = RunDir(run_dir)
        if run.provenance.exists():
            recorded = run.read_provenance()
            commits.add(recorded.get("git_commit", "?"))
            devices.update([recorded["device"]] if recorded.get("device") else [])
            started.append(run.provenance.stat().st_mtime)
        if run.metrics.exists():
            ended.append(run.metrics.stat().st_mtime)
    return commits, devices, started, ended


def _command(sweep_dir: Path, info: dict) -> str | None:
    command = info.get("command")
    if not command and (sweep_dir / "multirun.yaml").exists():
        task = (yaml.safe_load((sweep_dir / "multirun.yaml").read_text()) or {}).get("hydra", {})
        command = "python src/train.py -m " + " ".join(task.get("overrides", {}).get("task", []))
    return command


def provenance(sweep_dir: Path, frame, machine: Callable[[], str]) -> list[str]:
    """Commit, command, date, machine, devices and wall time of the sweep (`machine`: this
    machine in words, said only for a plain sweep, whose runs record no machine)."""
    preset = sweep_dir / "preset.json"
    info = json.loads(preset.read_text()) if preset.exists() else {}
    commits, devices, started, ended = _records(frame)
    lines = [f"- commit: {', '.join(sorted(c for c in commits if c)) or info.get('commit', '?')}"]
    lines.append(f"- command: `{_command(sweep_dir, info)}`")
    if info:
        lines.append(f"- date: {info.get('date', '?')}; machine: {info.get('machine', '?')}")
    elif ended:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(max(ended)))
        lines.append(f"- date: {when} (the last run's end); machine: {machine()}")
    if devices:  # each run's own record (runs from before the record have none)
        lines.append(f"- device: {'; '.join(sorted(devices))}")
    total = float(frame["time/total_s"].sum()) if "time/total_s" in frame else math.nan
    if info.get("wall_s"):
        lines.append(f"- wall time: {info['wall_s']:.0f} s for the whole preset")
    elif started and ended:
        lines.append(
            f"- wall time: {max(ended) - min(started):.0f} s from the first run's start to the "
            "last run's end (its files' times)"
        )
    lines.append(f"- sum of the runs' own times: {total:.0f} s over {len(frame)} runs")
    return lines
