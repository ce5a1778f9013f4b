"""Ablation report for a sweep: python scripts/report.py SWEEP_DIR [--metric test/acc]
[--baseline model=cnn [--baseline model=vit ...]] [--delta 0.01] [--out NAME]
(from W&B: python scripts/report.py ENTITY/PROJECT:GROUP --wandb, GROUP being `<experiment>-<sweep
id>`; or python scripts/report.py SWEEP_DIR --wandb: the same table from the W&B run files the
sweep left offline, before `wandb sync`; W&B holds no per-example predictions, so these
intervals resample seeds only, and no declaration is read: exploratory signs, no words)

Writes <sweep dir>/report/{report.md, report.csv, arms.csv, forest.png, arms__<metric>.png,
curves_train_loss.png}
for the sweep's own comparison (its `report:` config); another baseline, metric or delta writes
<sweep dir>/report_<baseline>_<metric>_<delta>/ (or --out NAME), one per baseline, so no call
overwrites another's report. Each header names the command that rebuilds it.
Contents (protocol v2, docs/protocol.md): the section's one Holm family of comparisons (every
declared comparison), each with its difference, the paired two-level bootstrap interval at its
Holm level that decided its word against ±δ, the sign-flip and t p beside it (counts: Barnard's
and Fisher's exact p); the forest plot of those decisions; per arm, mean and 95 % interval of each
metric, with charts in declared order, the baseline marked. Baseline, delta and the charted
metrics default to the runs' `report:` config. Reads the runs' own files (or a committed copy,
docs/results/<preset>), never stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from biaslab.analysis.load import load_wandb_files, load_wandb_group
from biaslab.analysis.report import write_report
from biaslab.errors import ConfigError
from biaslab.run.checks import exit_with_one_sentence


def main() -> None:
    """Bad input (a missing or empty dir, a damaged run file) is one sentence, exit 2."""
    exit_with_one_sentence(_main)


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sweep_dir", help="a sweep dir, or ENTITY/PROJECT:GROUP with --wandb")
    parser.add_argument(
        "--wandb",
        action="store_true",
        help="read the runs of a W&B group (online), or a sweep dir's offline W&B run files",
    )
    parser.add_argument("--metric", default=None, help="default: report.primary (test/acc)")
    parser.add_argument(
        "--baseline",
        action="append",
        default=None,
        help="an arm to compare against, e.g. model=cnn; repeat for one report per baseline",
    )
    parser.add_argument("--delta", type=float, default=None, help="equivalence bound")
    parser.add_argument("--out", default=None, help="the report's folder name in the sweep dir")
    parser.error = _refuse  # argparse's usage errors: one sentence too
    args = parser.parse_args()
    if args.out and args.baseline and len(args.baseline) > 1:
        parser.error("--out names one report: give one --baseline with it, or none")
    if args.wandb:
        if ":" in args.sweep_dir:
            frame = load_wandb_group(*args.sweep_dir.split(":", 1))
        else:
            frame = load_wandb_files(args.sweep_dir)
        print(wandb_tables(frame, args.metric, (args.baseline or [None])[0], args.delta))
        return
    if not Path(args.sweep_dir).is_dir():
        raise ConfigError(
            f"SWEEP_DIR={args.sweep_dir} is not a folder; pass a sweep dir (src/train.py -m, "
            "scripts/run_preset.py) or a published docs/results/<preset>."
        )
    for baseline in args.baseline or [None]:
        out = write_report(args.sweep_dir, args.metric, baseline, args.delta, args.out)
        print((out / "report.md").read_text())


def wandb_tables(frame, primary: str | None, baseline: str | None, delta: float | None) -> str:
    """The v2 tables of runs read from W&B (no saved predictions: seeds are resampled; no
    declaration recorded: exploratory)."""
    from biaslab.analysis.inputs import swept
    from biaslab.study import render
    from biaslab.study.spec import Preset
    from biaslab.study.verdicts import decide_section

    report = {"primary": primary or "test/acc", "baseline": baseline, "delta": delta}
    node = {"report": report, "hydra": {"sweeper": {"params": swept(frame, {})}}}
    section = decide_section(frame, Preset.from_dict("wandb", node), None, declared=False)
    return "\n\n".join([render.comparisons_table(section), render.arms_table(section)])


def _refuse(message: str) -> None:
    raise ConfigError(f"{message}; see scripts/report.py --help.")


if __name__ == "__main__":
    main()
