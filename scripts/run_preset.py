"""Run (or resume) one lecture preset and write its report: python scripts/run_preset.py NAME
[--publish] [override ...]. See biaslab.presets; `--list` prints the presets and, where
docs/results/NAME/preset.json exists, the wall time measured here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--list"]:
        for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
            info = ROOT / "docs" / "results" / path.stem / "preset.json"
            wall = (
                f"{json.loads(info.read_text())['wall_s'] / 60:.1f} min"
                if info.exists()
                else "not run"
            )
            print(f"{path.stem:26s} {wall}")
        return
    publish = "--publish" in argv
    args = [a for a in argv if a != "--publish"]
    from biaslab.presets import run_preset

    out = run_preset(args[0], args[1:], publish=publish)
    print((out / "report" / "report.md").read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
