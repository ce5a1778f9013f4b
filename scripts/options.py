"""The option reference, docs/options.md: its tables generated from conf/ and the parts' own
declarations (see biaslab.utils.options), its prose kept as written.

python scripts/options.py           # print the tables
python scripts/options.py --write   # rewrite docs/options.md's generated section
"""

from __future__ import annotations

import sys
from pathlib import Path

from biaslab.utils.options import PAGE, tables, with_tables

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    """Print the tables, or (--write) put them in the page; anything else: one sentence."""
    from biaslab.errors import ConfigError

    if argv not in ([], ["--write"]):
        raise ConfigError(f"options.py takes only --write (got {' '.join(argv)!r}).")
    if argv:
        page = ROOT / PAGE
        page.write_text(with_tables(page.read_text(), ROOT / "conf"))
    else:
        print(tables(ROOT / "conf"))


if __name__ == "__main__":
    from biaslab.run.checks import exit_with_one_sentence

    exit_with_one_sentence(lambda: main(sys.argv[1:]))
