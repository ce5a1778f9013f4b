"""Run (or resume) one lecture preset and write its report:

    python scripts/run_preset.py NAME [--publish] [--fresh] [override ...]
    python scripts/run_preset.py NAME --plan [override ...]
    python scripts/run_preset.py --list [NAME ...]

--publish copies the per-run files to docs/results/NAME (a clean, committed tree only);
--fresh moves the preset's earlier runs aside first, never deleting them, to
logs/presets/NAME.before-<UTC time>/ (kept, e.g. as a pilot; needed after its declaration
changed), once NAME is a preset of conf/experiment and its declaration is checked;
--plan prints the runs (each arm, a named bundle with its overrides), the tuning stage, the
comparisons (one Holm family) and the seed rule's ask per comparison, marked UNDERPOWERED where
the preset plans fewer seeds than its declared pilot asks, and trains nothing;
--list prints the presets with the wall time and device of each published page, and the
total of the NAMEs given (reproduce_lecture.sh --list names the lecture set). See
biaslab.study (plan, runner)."""

from __future__ import annotations

import sys
from pathlib import Path

# this clone's own code and conf/, even when the environment is shared with another clone
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main(argv: list[str]) -> None:
    from biaslab.run.checks import exit_with_one_sentence
    from biaslab.study.compose import ROOT  # conf/ and docs/ where a run reads them: one place

    if argv[:1] == ["--list"]:
        from biaslab.study.listing import listing

        print("\n".join(listing(ROOT, tuple(argv[1:]))))
        return
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return
    publish, fresh, plan = "--publish" in argv, "--fresh" in argv, "--plan" in argv
    args = [a for a in argv if a not in ("--publish", "--fresh", "--plan")]
    exit_with_one_sentence(lambda: _checked(args))
    if plan:
        print("\n".join(exit_with_one_sentence(lambda: _plan(args))))
        return

    def run() -> Path:
        from biaslab.study.runner import run_preset

        return run_preset(args[0], args[1:], publish=publish, fresh=fresh)

    try:
        out = exit_with_one_sentence(run)
    except KeyboardInterrupt:  # Ctrl-C: one line, and how to go on
        print(
            f"\nStopped {args[0]}: finished jobs are kept; the same command resumes it.",
            file=sys.stderr,
        )
        sys.exit(130)
    print((out / "report" / "report.md").read_text())


def _plan(args: list[str]) -> list[str]:
    """--plan: the preset's typed declaration (every baseline and comparison checked against
    the arms) and what it would run, with nothing trained or written."""
    from biaslab.study.compose import preset_config, preset_of
    from biaslab.study.plan import Plan, describe

    preset = preset_of(args[0], preset_config(args[0], args[1:]))
    return describe(Plan(preset, tuple(args[1:])))


def _checked(args: list[str]) -> None:
    """A preset name first (checked before anything is composed, moved or written), then
    only Hydra overrides."""
    from biaslab.errors import ConfigError
    from biaslab.study.compose import check_preset_name

    if not args:
        raise ConfigError(
            "run_preset.py needs a preset NAME (run_preset.py --list names them), e.g. "
            "run_preset.py loss_quick --fresh."
        )
    unknown = [a for a in args if a.startswith("-")]
    if unknown:
        raise ConfigError(
            f"{unknown[0]} is not an option of run_preset.py: it takes --plan, --publish, "
            "--fresh and Hydra overrides (key=value), e.g. hydra.sweep.dir=DIR for another folder."
        )
    check_preset_name(args[0])


if __name__ == "__main__":
    main(sys.argv[1:])
