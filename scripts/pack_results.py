"""Convert published presets to the packed form once: python scripts/pack_results.py [NAME ...]

Each docs/results/NAME holding run folders gets runs.csv and the three archives
(`biaslab.analysis.pack`), checked to unpack to the same files byte for byte, and then loses the
run folders; preset.json, tuning.json, discussion.md and the reports stay.
"""

from __future__ import annotations

import shutil
import sys

from biaslab.analysis.pack import ARCHIVES, TABLE, is_packed, pack, runs_equal, unpacked
from biaslab.errors import ConfigError
from biaslab.presets import ROOT
from biaslab.run.checks import exit_with_one_sentence
from biaslab.run.paths import plain_name

KEEP = {"preset.json", "tuning.json", "discussion.md", TABLE, *ARCHIVES}


def main(names: list[str]) -> None:
    """Each NAME checked (a plain name of a folder in docs/results) before anything is packed
    or removed; bad input is one sentence, exit 2."""
    exit_with_one_sentence(lambda: _pack(names))


def _pack(names: list[str]) -> None:
    results = ROOT / "docs" / "results"
    for name in names:
        plain_name(name, "NAME", "give the name of a folder in docs/results")
        if not (results / name).is_dir():
            raise ConfigError(f"NAME={name} is not a folder in {results}; give a published preset.")
    for folder in [results / n for n in names] or sorted(results.iterdir()):
        if not folder.is_dir() or is_packed(folder):
            continue
        pack(folder, folder)
        with unpacked(folder) as copy:
            if not runs_equal(folder, copy):
                sys.exit(f"{folder}: the archives do not give back the same files; nothing removed")
        for path in folder.iterdir():
            if path.name not in KEEP and not path.name.startswith("report"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        print(f"{folder.name}: packed")


if __name__ == "__main__":
    main(sys.argv[1:])
