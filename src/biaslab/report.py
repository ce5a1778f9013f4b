"""Sweep reports: one row per arm (a combination of swept values), with intervals that never
claim certainty, paired tests against a baseline arm, Holm's correction and a computed verdict.

Reads the runs' own files — each job's `.hydra/overrides.yaml`, `metrics.json`,
`config_resolved.yaml`, `predictions.npz`, `history.csv`, and the sweep's `multirun.yaml` and
optional `preset.json` (command, machine, wall time) — never stdout, so a copy of those files
(docs/results/<preset>/) rebuilds the same report. Used by `scripts/report.py` and the notebook.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from biaslab.callbacks.evidence import HISTORY, PREDICTIONS
from biaslab.stats import ALPHA, accuracy_interval, holm, mcnemar, mean_ci, paired_t, tost, verdict
from biaslab.utils.sweep import swept_keys

DEFAULT_METRICS = (
    "test/acc",
    "test_last/acc",
    "test/loss",
    "train_eval/loss",
    "gap/acc",
    "val/acc_best",
    "time/fit_s",
    "time/samples_per_s",
    "time/step_ms",
    "params/total",
)


def load_sweep(sweep_dir: str | Path):
    """A pandas DataFrame: one row per finished job, a column per swept key and per metric.
    A dir of sweeps (a tuned preset: one sweep per arm) gives their rows together."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    parts = sorted(p for p in sweep_dir.iterdir() if (p / "multirun.yaml").exists())
    if not (sweep_dir / "multirun.yaml").exists() and parts:
        frames = [load_sweep(p) for p in parts]
        frame = pd.concat(frames, ignore_index=True)
        frame.attrs["factors"] = sorted({f for fr in frames for f in factors(fr)})
        return frame
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
        row["run_dir"] = str(job)
        if metrics_file.exists():
            row.update(json.loads(metrics_file.read_text()))
            if row.get("pruned"):  # stopped by an Optuna pruner: not a finished arm
                row["status"] = "pruned"
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


def add_derived(frame, settings: dict[str, Any]) -> None:
    """Per-run metrics computed from each run's committed files, in place:
    - `diverged`: 1 when the final training loss is not finite or the training set's accuracy
      (eval mode) is below 2/K: the run learned next to nothing;
    - `steps_to_target` (with `report.target_loss`): the optimizer steps at the first epoch end
      whose train loss is <= the target (history.csv); NaN when never reached."""
    import pandas as pd

    if frame.empty or "run_dir" not in frame:
        return
    diverged, steps = [], []
    target = settings.get("target_loss")
    for _, r in frame.iterrows():
        if r.get("status") != "ok":
            diverged.append(math.nan)
            steps.append(math.nan)
            continue
        config = Path(r["run_dir"]) / "config_resolved.yaml"
        k = ((yaml.safe_load(config.read_text()) or {}).get("data") or {}).get("num_classes", 10)
        loss, acc = r.get("train_eval/loss", math.nan), r.get("train_eval/acc", math.nan)
        diverged.append(float(not math.isfinite(loss) or acc < 2 / int(k)))
        history = Path(r["run_dir"]) / HISTORY
        if target is not None and history.exists():
            h = pd.read_csv(history)
            hit = h[h["train/loss"] <= float(target)]
            steps.append(float(hit["step"].iloc[0]) if len(hit) else math.nan)
        else:
            steps.append(math.nan)
    frame["diverged"] = diverged
    if target is not None:
        frame["steps_to_target"] = steps


def loglog_exponents(frame, x: str, y: str, path: Path) -> list[str]:
    """`y` against `x` on log-log axes, one line per arm of the other factors (mean over seeds),
    and the fitted exponent (slope of log y on log x over every run, 95 % interval)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats as sps

    ok = frame[(frame["status"] == "ok")].dropna(subset=[y])
    others = [f for f in factors(frame) if f != x]
    lines = []
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for label, group in ok.groupby(others, dropna=False) if others else [((), ok)]:
        name = ",".join(
            f"{k}={v}" for k, v in zip(others, label if isinstance(label, tuple) else (label,))
        )
        xs, ys = group[x].astype(float).to_numpy(), group[y].astype(float).to_numpy()
        if len(set(xs)) < 2:
            continue
        fit = sps.linregress(np.log(xs), np.log(ys))
        half = sps.t.ppf(0.975, len(xs) - 2) * fit.stderr if len(xs) > 2 else math.nan
        means = group.groupby(x)[y].mean()
        order = np.argsort(means.index.astype(float))
        ax.plot(means.index.astype(float)[order], means.to_numpy()[order], marker="o",
                label=f"{name or 'all'}: slope {fit.slope:.2f}")  # fmt: skip
        lines.append(f"- {name or 'all'}: {y} ∝ {x}^**{fit.slope:.2f}** (95 % interval ± {half:.2f}, "
                     f"{len(xs)} runs)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return lines


def depth_flags(frame) -> list[str]:
    """The lecture's optimisation tell-tale over a depth factor, within each arm of the other
    factors: a deeper model whose training loss (eval mode, `train_eval/loss`) is higher than a
    shallower one's, significantly (paired t over seeds, p < 0.05, one-sided)."""
    from scipy import stats as sps

    metric = "train_eval/loss" if "train_eval/loss" in frame else "train/loss"
    flags = []
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    for factor in factors(frame):
        if "depth" not in factor or metric not in ok:
            continue
        others = [f for f in factors(frame) if f != factor]
        for label, group in ok.groupby(others, dropna=False) if others else [((), ok)]:
            label = label if isinstance(label, tuple) else (label,)
            at = ",".join(f"{k}={v}" for k, v in zip(others, label))
            by_depth = {float(d): g.set_index("seed")[metric] for d, g in group.groupby(factor)}
            for shallow in sorted(by_depth):
                for deep in sorted(d for d in by_depth if d > shallow):
                    a, b = by_depth[deep].align(by_depth[shallow], join="inner")
                    if len(a) < 2 or not (a - b).mean() > 0:
                        continue
                    p = float(sps.ttest_rel(a, b, alternative="greater").pvalue)
                    if p < 0.05:
                        flags.append(f"{at + ': ' if at else ''}depth {deep:g} trains worse than depth "
                                     f"{shallow:g} ({a.mean():.3g} > {b.mean():.3g}, p = {p:.2g}): an "
                                     "optimisation problem, not model bias")  # fmt: skip
    return flags


def factors(frame) -> list[str]:
    """The swept keys other than the seed (recorded by `load_sweep`)."""
    return list(frame.attrs.get("factors", []))


def sweep_settings(sweep_dir: Path) -> dict[str, Any]:
    """The `report:` node (baseline, delta, metrics) of the sweep's first job's config."""
    for path in sorted(Path(sweep_dir).glob("*/config_resolved.yaml")) or sorted(
        Path(sweep_dir).glob("*/*/config_resolved.yaml")  # a tuned preset: a sweep per arm
    ):
        return (yaml.safe_load(path.read_text()) or {}).get("report") or {}
    return {}


def _is_accuracy(metric: str) -> bool:
    """A test-set accuracy (a proportion over `test/n` examples)."""
    return metric in ("test/acc", "test_last/acc")


def _correct(run_dir: str) -> np.ndarray | None:
    path = Path(run_dir) / PREDICTIONS
    if not path.exists():
        return None
    saved = np.load(path)
    return saved["pred"] == saved["target"]


def _paired(group, base, metric: str):
    """Per-seed differences (arm - baseline) on `metric`, and both arms' rows, seed-aligned."""
    joined = group.set_index("seed").join(base.set_index("seed"), rsuffix=" base", how="inner")
    return joined[metric] - joined[f"{metric} base"], joined


def summarize(
    frame,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    primary: str = "test/acc",
    baseline: str | None = None,
    delta: float | None = None,
):
    """Per arm: mean and 95 % interval of each metric (accuracy: seeds + the test set's binomial
    error, never zero-width); against the baseline arm: the paired difference, p over seeds and
    over test examples (McNemar, where predictions exist), Holm-corrected, an equivalence test
    within ±delta, and the verdict word. `best` marks the top arm only when it beats the
    runner-up significantly (paired over seeds)."""
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    arms = factors(frame)
    metrics = tuple(dict.fromkeys(m for m in (primary, *metrics) if m in ok)) + tuple(
        sorted(c for c in ok if c.startswith("invariance/"))
    )
    higher = "loss" not in primary and not primary.startswith("gap/")  # a smaller gap is better
    n_test = int(ok["test/n"].max()) if "test/n" in ok and ok["test/n"].notna().any() else None
    base = None
    if baseline:
        key, value = baseline.split("=", 1)
        base = ok[ok[key].astype(str) == value]
    groups = list(ok.groupby(arms, sort=True, dropna=False)) if arms else [((), ok)]
    out = []
    for arm_values, group in groups:
        arm_values = arm_values if isinstance(arm_values, tuple) else (arm_values,)
        row: dict[str, Any] = {"arm": ",".join(f"{k}={v}" for k, v in zip(arms, arm_values)),
                               "seeds": len(group), **dict(zip(arms, arm_values))}  # fmt: skip
        for m in metrics:
            values = group[m].dropna()
            if _is_accuracy(m) and n_test and len(values):
                mean, half = accuracy_interval(values.tolist(), n_test)
            else:
                mean, half, _ = mean_ci(values)
            row[f"{m} mean"], row[f"{m} ci95"] = mean, half
        stratum = base
        if base is not None:  # the baseline arm with this arm's values of the other factors
            for f, v in zip(arms, arm_values):
                if f != baseline.split("=", 1)[0]:
                    stratum = stratum[stratum[f].astype(str) == str(v)]
        if stratum is not None and len(stratum) and not group.index.equals(stratum.index):
            diffs, joined = _paired(group, stratum, primary)
            row["diff"], row["diff ci95"] = mean_ci(diffs)[:2]
            row["p seeds"] = paired_t(diffs)
            row["p examples"] = _mcnemar_over_seeds(joined) if primary == "test/acc" else math.nan
            row["p equiv"] = tost(diffs, delta) if delta else math.nan
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs.update(factors=arms, primary=primary, baseline=baseline, delta=delta)
    if "p seeds" in table:
        use_seeds = table["seeds"] >= 3
        table["p"] = table["p seeds"].where(use_seeds, table["p examples"])
        table["p holm"] = holm(table["p"].tolist())
        table["p equiv holm"] = holm(table["p equiv"].tolist())
        table["verdict"] = [
            verdict(r["diff"], r["p holm"], r["p equiv holm"], delta, higher)
            if r["diff"] == r["diff"] else "" for _, r in table.iterrows()
        ]  # fmt: skip
    table["best"] = _best_mark(table, groups, primary, higher)
    return table


def _mcnemar_over_seeds(joined) -> float:
    """McNemar over every test example of every seed pair (seed i of the arm vs seed i of the
    baseline), where both runs saved their predictions."""
    pairs = [(_correct(a), _correct(b)) for a, b in zip(joined["run_dir"], joined["run_dir base"])]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None and len(a) == len(b)]
    if not pairs:
        return math.nan
    return mcnemar(np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs]))


def _best_mark(table, groups, primary: str, higher: bool) -> list[str]:
    """'*' on the best arm if it beats the runner-up (paired t over seeds, p < 0.05)."""
    column = f"{primary} mean"
    if len(table) < 2 or column not in table:
        return [""] * len(table)
    order = table[column].sort_values(ascending=not higher).index
    best, runner_up = order[0], order[1]
    diffs, _ = _paired(groups[best][1], groups[runner_up][1], primary)
    p = paired_t(diffs)
    table.attrs["best_vs_runner_up_p"] = p
    return ["*" if i == best and p == p and p < ALPHA else "" for i in table.index]


def _fmt(mean: float, half: float) -> str:
    if mean != mean:
        return ""
    if abs(mean) >= 1000:
        return f"{mean:,.0f}" + (f" ± {half:,.0f}" if half == half else "")
    return f"{mean:.4f}" + (f" ± {half:.4f}" if half == half else "")


def _fmt_p(p: float) -> str:
    return "" if p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def to_markdown(table, primary: str = "test/acc") -> str:
    metric_names = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    head = ["arm", "seeds", *metric_names]
    compare = "diff" in table
    if compare:
        head += [f"{primary} diff vs {table.attrs.get('baseline')}", "p (seeds)", "p (examples)",
                 "p Holm", "verdict"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " | best |", "|" + "---|" * (len(head) + 1)]
    for _, r in table.iterrows():
        cells = [str(r["arm"]), str(r["seeds"])]
        cells += ["{:,.0f}".format(r[f"{m} mean"]) if m == "params/total" else _fmt(r[f"{m} mean"], r[f"{m} ci95"])
                  for m in metric_names]  # fmt: skip
        if compare:
            is_base = r["diff"] != r["diff"]
            cells += ["(baseline)" if is_base else _fmt(r["diff"], r["diff ci95"]),
                      _fmt_p(r["p seeds"]), _fmt_p(r["p examples"]), _fmt_p(r["p holm"]), r["verdict"]]  # fmt: skip
        lines.append("| " + " | ".join(cells) + f" | {r['best']} |")
    return "\n".join(lines)


def _numeric(values) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def plot_factor(table, factor: str, metric: str, path: Path) -> None:
    """Mean and 95 % interval of `metric` against one factor, a series per other arm. Numeric
    factors on a numeric axis in numeric order (log when they span 10x or more) joined by
    lines; categorical arms as points with interval bars, never joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [f for f in factors(table) if f != factor and f in table]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    groups = list(table.groupby(others, dropna=False)) if others else [((), table)]
    numeric = _numeric(table[factor])
    categories = sorted({str(v) for v in table[factor]})
    for k, (label, group) in enumerate(groups):
        name = ",".join(map(str, label if isinstance(label, tuple) else (label,))) or None
        y, err = group[f"{metric} mean"], group[f"{metric} ci95"].fillna(0)
        if numeric is not None:
            order = np.argsort(_numeric(group[factor]))
            xs = np.asarray(_numeric(group[factor]))[order]
            ax.errorbar(
                xs,
                y.to_numpy()[order],
                yerr=err.to_numpy()[order],
                marker="o",
                capsize=3,
                label=name,
            )
        else:
            offset = (k - (len(groups) - 1) / 2) * 0.08
            xs = [categories.index(str(v)) + offset for v in group[factor]]
            ax.errorbar(xs, y, yerr=err, marker="o", linestyle="none", capsize=3, label=name)
    if numeric is not None and min(numeric) > 0 and max(numeric) / min(numeric) >= 10:
        ax.set_xscale("log")
    if numeric is None:
        ax.set_xticks(range(len(categories)), categories, rotation=20, fontsize=7)
    ax.set_xlabel(factor)
    ax.set_ylabel(f"{metric} (mean, 95% interval)")
    if others:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_curves(frame, metric: str, path: Path) -> bool:
    """Per-epoch `metric` (history.csv) per arm, mean over seeds; False when no history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    ok = frame[frame["status"] == "ok"]
    arms = factors(frame)
    curves = []
    for _, r in ok.iterrows():
        path_csv = Path(r["run_dir"]) / HISTORY
        if path_csv.exists():
            h = pd.read_csv(path_csv)
            if metric in h:
                h["arm"] = ",".join(f"{k}={r[k]}" for k in arms) or "all"
                curves.append(h[["epoch", "arm", metric]])
    if not curves:
        return False
    data = pd.concat(curves).groupby(["arm", "epoch"])[metric].mean().reset_index()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for arm, g in data.groupby("arm"):
        ax.plot(g["epoch"], g[metric], marker=".", label=arm)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (mean over seeds)")
    if metric.endswith("loss") and (data[metric] > 0).all():
        ax.set_yscale("log")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def provenance(sweep_dir: Path, frame) -> list[str]:
    """Commit, command, date, machine and wall time of the sweep, from its own files."""
    lines = []
    preset = sweep_dir / "preset.json"
    info = json.loads(preset.read_text()) if preset.exists() else {}
    commits = set()
    for run_dir in frame.get("run_dir", []):
        p = Path(run_dir) / "provenance.json"
        if p.exists():
            commits.add(json.loads(p.read_text()).get("git_commit", "?"))
    lines.append(
        f"- commit: {', '.join(sorted(c for c in commits if c)) or info.get('commit', '?')}"
    )
    command = info.get("command")
    if not command and (sweep_dir / "multirun.yaml").exists():
        task = (yaml.safe_load((sweep_dir / "multirun.yaml").read_text()) or {}).get("hydra", {})
        command = "python src/train.py -m " + " ".join(task.get("overrides", {}).get("task", []))
    lines.append(f"- command: `{command}`")
    lines.append(f"- date: {info.get('date', '?')}; machine: {info.get('machine', '?')}")
    total = float(frame["time/total_s"].sum()) if "time/total_s" in frame else math.nan
    wall = info.get("wall_s")
    lines.append(f"- wall time: {wall:.0f} s for the whole preset" if wall else "- wall time: ?")
    lines.append(f"- sum of the runs' own times: {total:.0f} s over {len(frame)} runs")
    return lines


def write_report(
    sweep_dir: str | Path,
    primary: str | None = None,
    baseline: str | None = None,
    delta: float | None = None,
) -> Path:
    """report.md, report.csv, one PNG per swept factor and metric, and train-loss curves, in
    <sweep dir>/report/. Unset options come from the sweep's `report:` config."""
    sweep_dir = Path(sweep_dir)
    settings = sweep_settings(sweep_dir)
    primary = primary or settings.get("primary") or "test/acc"
    baseline = baseline or settings.get("baseline")
    delta = delta if delta is not None else settings.get("delta")
    chart_metrics = list(dict.fromkeys([primary, *(settings.get("metrics") or [])]))
    frame = load_sweep(sweep_dir)
    add_derived(frame, settings)
    table = summarize(frame, metrics=(*DEFAULT_METRICS, *chart_metrics), primary=primary,
                      baseline=baseline, delta=delta)  # fmt: skip
    out = sweep_dir / "report"
    out.mkdir(exist_ok=True)
    table.to_csv(out / "report.csv", index=False)
    failed = frame[frame["status"] != "ok"]
    which = {"test/acc": "test accuracy of the best-validation checkpoint (ties go to the later epoch)",
             "test_last/acc": "test accuracy of the last epoch"}.get(primary, primary)  # fmt: skip
    p_best = table.attrs.get("best_vs_runner_up_p", math.nan)
    text = [
        f"# Sweep {sweep_dir.name}", "", *provenance(sweep_dir, frame), "",
        f"Compared: **{which}**. {len(frame)} jobs, {len(failed)} failed. Accuracy intervals: 95 %, "
        "seeds' variance plus the test set's binomial error (never zero-width); other metrics: "
        "t-interval over seeds. p (seeds): paired t-test over seeds; p (examples): McNemar over "
        "every test example of every seed pair; the verdict uses p (seeds) with 3 or more seeds, "
        f"Holm-corrected over this preset's {int(table['diff'].notna().sum()) if 'diff' in table else 0} comparisons"
        + (f"; equivalence: paired TOST within ±{delta:g}" if delta else "; no equivalence bound set, so no 'equivalent'")
        + f". `*` only when the best arm beats the runner-up (p = {_fmt_p(p_best) or 'n/a'}).",
        "", to_markdown(table, primary),
    ]  # fmt: skip
    for metric in chart_metrics:
        if f"{metric} mean" not in table:
            continue
        for factor in factors(frame):
            png = out / f"{factor.replace('/', '_')}__{metric.replace('/', '_')}.png"
            plot_factor(table, factor, metric, png)
            text += ["", f"![{metric} by {factor}]({png.name})"]
    for metric in settings.get("curves") or ["train/loss"]:
        png = f"curves_{metric.replace('/', '_')}.png"
        if plot_curves(frame, metric, out / png):
            text += ["", f"![{metric} per epoch]({png})"]
    if settings.get("loglog"):
        x, y = settings["loglog"]
        png = f"loglog_{y.replace('/', '_')}.png"
        text += ["", f"Scaling of {y} with {x} (log-log):", "",
                 *loglog_exponents(frame, x, y, out / png), "", f"![{y} against {x}]({png})"]  # fmt: skip
    tuning = sweep_dir / "tuning.json"
    if tuning.exists():
        text += ["", "Tuned per arm on the validation set before the seeds ran (chosen value; mean "
                 "validation score per grid value):", ""]  # fmt: skip
        for entry in json.loads(tuning.read_text()).values():
            arm = ",".join(f"{k}={v}" for k, v in entry["arm"].items())
            scores = ", ".join(f"{k}: {v:.4f}" for k, v in entry["scores"].items())
            chosen = ",".join(f"{k}={v}" for k, v in entry["chosen"].items())
            grid = _numeric(list(entry["scores"]))
            edge = (
                grid is not None
                and len(grid) > 2
                and float(next(iter(entry["chosen"].values()))) in (min(grid), max(grid))
            )
            text.append(
                f"- {arm}: **{chosen}** ({entry['metric']}: {scores})"
                + (" — at the edge of the grid: the best value may lie beyond it" if edge else "")
            )
    flags = depth_flags(frame)
    if flags:
        text += ["", *[f"- {f}" for f in flags]]
    (out / "report.md").write_text("\n".join(text) + "\n")
    return out
