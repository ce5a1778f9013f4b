"""Rebuild docs/results.md from the committed per-run files: python scripts/results_md.py
(see biaslab.analysis.page)."""

from __future__ import annotations

import sys
from pathlib import Path

from biaslab.analysis.page import write_page
from biaslab.errors import ConfigError
from biaslab.run.checks import exit_with_one_sentence


def main(argv: list[str]) -> str:
    """It takes no arguments; a damaged published file is one sentence, exit 2."""
    if argv:
        raise ConfigError(f"results_md.py takes no arguments (got {argv[0]!r}); run it bare.")
    return write_page(Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    print(exit_with_one_sentence(lambda: main(sys.argv[1:])))
