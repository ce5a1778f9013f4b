"""Sweep reports: one row per arm (a combination of swept values), mean ± 95 % CI over seeds.

Reads the runs' own files — each job's `.hydra/overrides.yaml` and `metrics.json`, and the
sweep's `multirun.yaml` — never stdout. Used by `scripts/report.py` and the notebook.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from biaslab.utils.sweep import swept_keys

DEFAULT_METRICS = (
    "test/acc",
    "test/loss",
    "val/acc_best",
    "time/fit_s",
    "time/samples_per_s",
    "params/total",
)


def load_sweep(sweep_dir: str | Path):
    """A pandas DataFrame: one row per finished job, a column per swept key and per metric."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    keys = swept_keys(sweep_dir)
    rows = []
    for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()):
        overrides_file, metrics_file = job / ".hydra" / "overrides.yaml", job / "metrics.json"
        if not overrides_file.exists():
            continue
        overrides = dict(o.split("=", 1) for o in yaml.safe_load(overrides_file.read_text()))
        row: dict[str, Any] = {"job": int(job.name), **{k: overrides.get(k) for k in sorted(keys)}}
        row.setdefault("seed", overrides.get("seed"))
        for key in unused_groups(job, keys):  # e.g. pe for a CNN: not a factor of this arm
            row[key] = UNUSED
        row["status"] = "ok" if metrics_file.exists() else "failed"
        if metrics_file.exists():
            row.update(json.loads(metrics_file.read_text()))
        rows.append(row)
    frame = pd.DataFrame(rows)
    factor_keys = sorted(k for k in keys if k != "seed")
    if rows and "seed" in frame and factor_keys:  # arms that differed only in an unused key
        frame = frame.drop_duplicates(subset=[*factor_keys, "seed"], keep="first")
    frame.attrs["factors"] = factor_keys
    return frame


UNUSED = "(unused)"


def unused_groups(job: Path, keys: set[str]) -> list[str]:
    """Swept keys that the job's model did not use: recorded as null in its resolved config
    (`biaslab.utils.validate.record_unused`)."""
    path = job / "config_resolved.yaml"
    if not path.exists():
        return []
    resolved = yaml.safe_load(path.read_text()) or {}
    return [k for k in keys if "." not in k and k in resolved and resolved[k] is None]


def load_wandb_group(path: str, group: str):
    """The same frame from W&B (online): runs of `entity/project` in `group`, one row per run,
    the swept values from the run names (`seed=1,model=vit`) and metrics from run summaries."""
    import pandas as pd
    import wandb

    rows, keys = [], set()
    for i, run in enumerate(wandb.Api().runs(path, filters={"group": group})):
        values = dict(part.split("=", 1) for part in run.name.split(",") if "=" in part)
        keys.update(values)
        row = {"job": i, **values, "status": "ok" if run.state == "finished" else "failed"}
        row.update({k: v for k, v in run.summary.items() if isinstance(v, int | float)})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["factors"] = sorted(k for k in keys if k != "seed")
    return frame


def depth_flags(frame) -> list[str]:
    """The lecture's optimisation tell-tale over a depth factor: a deeper model with a higher
    training loss than a shallower one (see `biaslab.probes.diagnose_depth`)."""
    from biaslab.probes.diagnosis import diagnose_depth

    flags = []
    for factor in factors(frame):
        if "depth" in factor and "train/loss" in frame:
            ok = frame[frame["status"] == "ok"]
            means = ok.groupby(factor)["train/loss"].mean()
            flags += diagnose_depth(
                [{"depth": float(d), "train_loss": float(v)} for d, v in means.items()]
            )
    return flags


def t_quantile(n: int, level: float = 0.95) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else math.nan


def mean_ci(values) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % t-interval, n)."""
    import numpy as np

    v = np.asarray([x for x in values if x == x], dtype=float)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    half = t_quantile(n) * v.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
    return float(v.mean()), float(half), n


def factors(frame) -> list[str]:
    """The swept keys other than the seed (recorded by `load_sweep`)."""
    return list(frame.attrs.get("factors", []))


def summarize(
    frame,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    primary: str = "test/acc",
    baseline: str | None = None,
):
    """Per arm: mean ± CI of each metric, `best` on the primary metric, and paired differences
    (by seed) of the primary metric against the baseline arm (e.g. "model=cnn")."""
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    arms = factors(frame)
    metrics = tuple(m for m in metrics if m in ok) + tuple(
        sorted(c for c in ok if c.startswith("invariance/"))
    )
    base = None
    if baseline:
        key, value = baseline.split("=", 1)
        base = ok[ok[key].astype(str) == value].set_index("seed")[primary]
    out = []
    for arm_values, group in ok.groupby(arms, sort=True) if arms else [((), ok)]:
        arm_values = arm_values if isinstance(arm_values, tuple) else (arm_values,)
        row: dict[str, Any] = {
            "arm": ",".join(f"{k}={v}" for k, v in zip(arms, arm_values)),
            "seeds": len(group),
        }
        row.update(dict(zip(arms, arm_values)))
        for m in metrics:
            mean, half, _ = mean_ci(group[m])
            row[f"{m} mean"], row[f"{m} ci95"] = mean, half
        if base is not None:
            paired = group.set_index("seed")[primary].sub(base).dropna()
            row[f"{primary} diff vs {baseline}"], row[f"{primary} diff ci95"] = mean_ci(paired)[:2]
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs["factors"] = arms
    better = (
        table[f"{primary} mean"].idxmin()
        if "loss" in primary
        else table[f"{primary} mean"].idxmax()
    )
    table["best"] = ["*" if i == better else "" for i in table.index]
    return table


def to_markdown(table, primary: str = "test/acc") -> str:
    def fmt(mean, half):
        if mean != mean:
            return ""
        if abs(mean) >= 1000:
            return f"{mean:,.0f}" + (f" ± {half:,.0f}" if half == half else "")
        return f"{mean:.4f}" + (f" ± {half:.4f}" if half == half else "")

    metric_names = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    head = ["arm", "seeds", *metric_names]
    diff_cols = [c for c in table.columns if " diff vs " in c]
    head += [c for c in diff_cols]
    lines = ["| " + " | ".join(head) + " | best |", "|" + "---|" * (len(head) + 1)]
    for _, r in table.iterrows():
        cells = [
            str(r["arm"]),
            str(r["seeds"]),
            *[fmt(r[f"{m} mean"], r[f"{m} ci95"]) for m in metric_names],
        ]
        cells += [fmt(r[c], r[f"{primary} diff ci95"]) for c in diff_cols]
        lines.append("| " + " | ".join(cells) + f" | {r['best']} |")
    return "\n".join(lines)


def plot_factor(table, factor: str, primary: str, path: Path) -> None:
    """Mean ± 95 % CI of the primary metric against one factor (a series per other arm)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [f for f in factors(table) if f != factor and f in table]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    groups = table.groupby(others) if others else [((), table)]
    for label, group in groups:
        xs = [str(v) for v in group[factor]]
        ax.errorbar(xs, group[f"{primary} mean"], yerr=group[f"{primary} ci95"].fillna(0), marker="o",
                    capsize=3, label=",".join(map(str, label if isinstance(label, tuple) else (label,))) or None)  # fmt: skip
    ax.set_xlabel(factor)
    ax.set_ylabel(f"{primary} (mean ± 95% CI)")
    if others:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(
    sweep_dir: str | Path, primary: str = "test/acc", baseline: str | None = None
) -> Path:
    """report.md, report.csv and one PNG per swept factor in <sweep dir>/report/."""
    sweep_dir = Path(sweep_dir)
    frame = load_sweep(sweep_dir)
    table = summarize(frame, primary=primary, baseline=baseline)
    out = sweep_dir / "report"
    out.mkdir(exist_ok=True)
    table.to_csv(out / "report.csv", index=False)
    failed = frame[frame["status"] != "ok"]
    text = [
        f"# Sweep {sweep_dir.name}",
        "",
        f"{len(frame)} jobs, {len(failed)} failed; mean ± 95% CI (t) over seeds.",
        "",
        to_markdown(table, primary),
    ]
    for factor in factors(frame):
        png = out / f"{factor.replace('/', '_')}.png"
        plot_factor(table, factor, primary, png)
        text += ["", f"![{factor}]({png.name})"]
    (out / "report.md").write_text("\n".join(text) + "\n")
    return out
