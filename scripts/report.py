"""Ablation report for a sweep: python scripts/report.py SWEEP_DIR [--metric test/acc] [--baseline model=cnn]
(online: python scripts/report.py ENTITY/PROJECT:GROUP --wandb, where GROUP is the sweep dir's name)

Writes <sweep dir>/report/{report.md, report.csv, <factor>.png}: per arm, mean ± 95 % CI over
seeds of accuracy, loss, train time, throughput and parameters; the best arm marked; paired
differences against a baseline arm. Reads the runs' own files, never stdout.
"""

from __future__ import annotations

import argparse

from biaslab.report import load_wandb_group, summarize, to_markdown, write_report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sweep_dir", help="a sweep dir, or ENTITY/PROJECT:GROUP with --wandb")
    parser.add_argument(
        "--wandb", action="store_true", help="read the runs of a W&B group (online)"
    )
    parser.add_argument("--metric", default="test/acc")
    parser.add_argument(
        "--baseline", default=None, help="an arm to compare against, e.g. model=cnn"
    )
    args = parser.parse_args()
    if args.wandb:
        path, group = args.sweep_dir.split(":", 1)
        print(
            to_markdown(
                summarize(
                    load_wandb_group(path, group), primary=args.metric, baseline=args.baseline
                ),
                args.metric,
            )
        )
        return
    out = write_report(args.sweep_dir, args.metric, args.baseline)
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
