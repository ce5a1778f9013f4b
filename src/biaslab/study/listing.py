"""`run_preset.py --list`: one line per preset with its claim and its published page's wall
time and device, and a lecture set's total."""

from __future__ import annotations

import json
from pathlib import Path

from biaslab.study.compose import ROOT


def listing(root: Path = ROOT, lecture: tuple[str, ...] = ()) -> list[str]:
    """One line per preset (claim id, the page's wall time and the CPU or GPU its runs
    recorded), then, for the `lecture` presets named, their total: times measured on other
    hosts do not transfer, so each line names its own."""
    import csv

    import yaml

    from biaslab.analysis.pack import TABLE

    lines, walls = [], {}
    for path in sorted((root / "conf" / "experiment").glob("*.yaml")):
        try:  # one malformed file is marked; the others are listed
            node = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
            where = getattr(err, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            lines.append(f"{path.stem:26s} not read: malformed YAML{at}; fix {path}")
            continue
        claim = (node.get("claim") if isinstance(node, dict) else None) or {}
        claim = claim if isinstance(claim, dict) else {}
        page = root / "docs" / "results" / path.stem
        wall, where = "not run", ""
        if (page / "preset.json").exists():
            walls[path.stem] = json.loads((page / "preset.json").read_text())["wall_s"] / 60
            wall = f"{walls[path.stem]:.1f} min"
        if (page / TABLE).exists():
            with (page / TABLE).open() as rows:
                where = "; ".join(
                    sorted({r.get("device") for r in csv.DictReader(rows)} - {None, ""})
                )
        lines.append(f"{path.stem:26s} {claim.get('id', '-')!s:14s} {wall:10s} {where}".rstrip())
    if lecture:
        missing = [name for name in lecture if name not in walls]
        longest = max((n for n in lecture if n in walls), key=walls.get, default=None)
        lines.append(
            f"lecture set ({len(lecture)} presets, each on the host its line names): "
            f"{sum(walls.get(n, 0) for n in lecture) / 60:.1f} h"
            + (f", the longest {longest} {walls[longest]:.1f} min" if longest else "")
            + (f"; not run: {', '.join(missing)}" if missing else "")
        )
    return lines
