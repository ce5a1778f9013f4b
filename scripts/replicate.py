"""Does a re-run with seeds the page never used give the page's verdict words?

  python scripts/replicate.py NAME [--seeds A:B] [--page DIR] [--out DIR] [--reread]
                               [--record FILE] [override ...]

Runs preset NAME again (as `scripts/run_preset.py` does: tuning, if any, on seeds shifted to A,
then seeds A..B-1; default A = 1000 and as many seeds as the page has) into --out (default
logs/replicate/NAME; the same command resumes it), and prints, per declared comparison, the
page's verdict word (docs/results/NAME, or --page) beside the re-run's: same, different where the
page says the comparison is underpowered, or different. Exits 1 if any word changed where the
page did not call its comparison underpowered (protocol v2: both sides are read as v2 sections,
one word per comparison of the family, underpowered meaning fewer seeds than the declared seed rule
asked for before the run); the reading, which names its protocol, is also written to
OUT/replication.md (and, with --record FILE, as the preset's section of FILE, e.g.
docs/replication.md). --reread runs nothing: it reads the finished re-run in OUT with this
checkout's statistics.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biaslab.errors import ConfigError
from biaslab.run.checks import exit_with_one_sentence
from biaslab.study.compose import ROOT, check_preset_name
from biaslab.study.replication import record, replicate


def seed_range(text: str) -> range:
    """`A:B` -> range(A, B), a non-empty range of seeds."""
    try:
        start, stop = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not A:B (e.g. 1000:1010)") from None
    if stop <= start:
        raise argparse.ArgumentTypeError(f"{text!r} holds no seeds: B must exceed A")
    return range(start, stop)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a preset in conf/experiment")
    parser.add_argument(
        "--seeds", type=seed_range, help="A:B, the seeds A..B-1 (default 1000 and the page's count)"
    )
    parser.add_argument("--page", type=Path, help="the page's runs (default docs/results/NAME)")
    parser.add_argument("--out", type=Path, help="where the re-run goes (logs/replicate/NAME)")
    parser.add_argument(
        "--reread", action="store_true", help="run nothing: read the finished re-run in --out"
    )
    parser.add_argument("--record", type=Path, help="also put the reading in this file")
    parser.error = _refuse  # argparse's usage errors: one sentence too
    args, extra = exit_with_one_sentence(lambda: parser.parse_known_args(argv))

    def run() -> tuple[str, bool]:
        check_preset_name(args.name)  # before a folder is named after it
        page = args.page or ROOT / "docs" / "results" / args.name
        out = args.out or ROOT / "logs" / "replicate" / args.name
        text, broken = replicate(args.name, page, out, args.seeds, extra, args.reread)
        if args.record:
            record(text, args.name, args.record)
        return text, broken

    text, broken = exit_with_one_sentence(run)
    print(text)
    return 1 if broken else 0


def _refuse(message: str) -> None:
    raise ConfigError(f"{message}; see scripts/replicate.py --help.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
