"""Run (or resume) one lecture preset and write its report:

    python scripts/run_preset.py NAME [--publish] [--fresh] [override ...]
    python scripts/run_preset.py --list

--publish copies the per-run files to docs/results/NAME (a clean, committed tree only);
--fresh removes the preset's earlier runs first (needed after its declaration changed);
--list prints the presets and, where docs/results/NAME/preset.json exists, the wall time
measured here. See biaslab.presets."""

from __future__ import annotations

import json
import shutil
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
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return
    publish, fresh = "--publish" in argv, "--fresh" in argv
    args = [a for a in argv if a not in ("--publish", "--fresh")]
    from biaslab.presets import run_preset
    from biaslab.run.checks import exit_with_one_sentence

    def run() -> Path:
        if fresh:  # a changed declaration: its earlier runs go, the preset runs whole
            shutil.rmtree(ROOT / "logs" / "presets" / args[0], ignore_errors=True)
        return run_preset(args[0], args[1:], publish=publish)

    out = exit_with_one_sentence(run)
    print((out / "report" / "report.md").read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
