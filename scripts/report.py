"""Ablation report for a sweep: python scripts/report.py SWEEP_DIR [--metric test/acc]
[--baseline model=cnn [--baseline model=vit ...]] [--delta 0.01] [--out NAME]
(from W&B: python scripts/report.py ENTITY/PROJECT:GROUP --wandb, GROUP being `<experiment>-<sweep
id>`; or python scripts/report.py SWEEP_DIR --wandb: the same table from the W&B run files the
sweep left offline, before `wandb sync`)

Writes <sweep dir>/report/{report.md, report.csv, <factor>__<metric>.png, curves_train_loss.png}
for the sweep's own comparison (its `report:` config); another baseline, metric or delta writes
<sweep dir>/report_<baseline>_<metric>_<delta>/ (or --out NAME), one per baseline, so no call
overwrites another's report. Each header names the command that rebuilds it.
Contents:
per arm, mean and 95 % interval (never zero-width for accuracy) of accuracy, loss, the train-set
loss in eval mode, the gap, time and parameters; paired t-tests over seeds against the baseline
arm, Holm-corrected, and a computed verdict; `*` only for a significantly best
arm. Baseline, delta and the charted metrics default to the sweep's `report:` config. Reads the
runs' own files (or a committed copy, docs/results/<preset>), never stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from biaslab.analysis.load import load_wandb_files, load_wandb_group
from biaslab.analysis.report import write_report
from biaslab.analysis.tables import summarize, to_markdown
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
        print(
            to_markdown(
                summarize(
                    frame,
                    primary=args.metric or "test/acc",
                    baseline=(args.baseline or [None])[0],
                    delta=args.delta,
                ),
                args.metric or "test/acc",
            )
        )
        return
    if not Path(args.sweep_dir).is_dir():
        raise ConfigError(
            f"SWEEP_DIR={args.sweep_dir} is not a folder; pass a sweep dir (src/train.py -m, "
            "scripts/run_preset.py) or a published docs/results/<preset>."
        )
    for baseline in args.baseline or [None]:
        out = write_report(args.sweep_dir, args.metric, baseline, args.delta, args.out)
        print((out / "report.md").read_text())


def _refuse(message: str) -> None:
    raise ConfigError(f"{message}; see scripts/report.py --help.")


if __name__ == "__main__":
    main()
