"""How many seeds a preset's declaration needs, read from a pilot's runs.

  python scripts/pilot.py NAME [PILOT_DIR]      (default pilot: docs/results/NAME)

Prints, per declared comparison and arm, the SD of the paired differences on the pilot, the MDE
at the pilot's seeds and the fewest seeds whose MDE is <= delta (80 % power, at the Holm family's
size, capped at 20), then the seed rule's answer: the most any comparison needs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omegaconf import OmegaConf

from biaslab.analysis.pack import unpacked
from biaslab.analysis.pilot import pilot_lines, pilot_rows, seed_rule
from biaslab.errors import ConfigError
from biaslab.run.checks import exit_with_one_sentence
from biaslab.study.compose import ROOT, preset_config


def main() -> None:
    """Bad input (an unknown preset, a missing pilot dir, a damaged run file): one sentence."""
    exit_with_one_sentence(_main)


def _refuse(message: str) -> None:
    raise ConfigError(f"{message}; see scripts/pilot.py --help.")


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a preset in conf/experiment")
    parser.add_argument("pilot", nargs="?", help="the pilot's runs (default docs/results/NAME)")
    parser.error = _refuse  # argparse's usage errors: one sentence too
    args = parser.parse_args()
    cfg = preset_config(args.name, [])  # the name checked first
    report = OmegaConf.to_container(cfg.get("report") or {}, resolve=True)
    claim = OmegaConf.to_container(cfg.claim, resolve=True) if cfg.get("claim") else None
    pilot = Path(args.pilot or ROOT / "docs" / "results" / args.name)
    if not pilot.is_dir():
        raise ConfigError(
            f"PILOT_DIR={pilot} is not a folder; pass the pilot's runs (a sweep dir), or "
            f"publish {args.name} first."
        )
    with unpacked(pilot) as runs:
        rows = pilot_rows(runs, report, claim)
    print("\n".join(pilot_lines(rows)))
    print(f"seed rule: {seed_rule(rows)} seeds")


if __name__ == "__main__":
    main()
