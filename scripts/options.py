"""The README's option tables, generated from conf/ (see biaslab.utils.options):

python scripts/options.py           # print them
python scripts/options.py --write   # rewrite the README's generated section
"""

from __future__ import annotations

import sys
from pathlib import Path

from biaslab.utils.options import tables, with_tables

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    """Print the tables, or (--write) put them in the README; anything else: one sentence."""
    from biaslab.errors import ConfigError

    if argv not in ([], ["--write"]):
        raise ConfigError(f"options.py takes only --write (got {' '.join(argv)!r}).")
    if argv:
        readme = ROOT / "README.md"
        readme.write_text(with_tables(readme.read_text(), ROOT / "conf"))
    else:
        print(tables(ROOT / "conf"))


if __name__ == "__main__":
    from biaslab.run.checks import exit_with_one_sentence

    exit_with_one_sentence(lambda: main(sys.argv[1:]))
