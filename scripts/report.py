"""Ablation report for a sweep: python scripts/report.py SWEEP_DIR [--metric test/acc] [--baseline model=cnn]

Writes <sweep dir>/report/{report.md, report.csv, <factor>.png}: per arm, mean ± 95 % CI over
seeds of accuracy, loss, train time, throughput and parameters; the best arm marked; paired
differences against a baseline arm. Reads the runs' own files, never stdout.
"""

from __future__ import annotations

import argparse

from biaslab.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sweep_dir")
    parser.add_argument("--metric", default="test/acc")
    parser.add_argument(
        "--baseline", default=None, help="an arm to compare against, e.g. model=cnn"
    )
    args = parser.parse_args()
    out = write_report(args.sweep_dir, args.metric, args.baseline)
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
