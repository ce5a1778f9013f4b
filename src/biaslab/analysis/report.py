from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import yaml

from biaslab.analysis.derived import add_derived
from biaslab.analysis.load import factors, load_sweep, sweep_settings
from biaslab.analysis.metrics import metric as registry
from biaslab.analysis.plots import (
    _numeric,
    loglog_exponents,
    plot_curves,
    plot_factor,
    plot_forest,
)
from biaslab.analysis.tables import DEFAULT_METRICS, _fmt_p, summarize, to_markdown
from biaslab.run.files import RunDir, find_runs
from biaslab.tuning import tie_words


def provenance(sweep_dir: Path, frame) -> list[str]:
    """Commit, command, date, machine and wall time of the sweep, from its own files: a preset's
    `preset.json`, or for a plain sweep the runs' own records (their provenance, and the times
    their first and last files were written)."""
    lines = []
    preset = sweep_dir / "preset.json"
    info = json.loads(preset.read_text()) if preset.exists() else {}
    commits, devices, started, ended = set(), set(), [], []
    for run_dir in frame.get("run_dir", []):
        run = RunDir(run_dir)
        if run.provenance.exists():
            recorded = run.read_provenance()
            commits.add(recorded.get("git_commit", "?"))
            devices.update([recorded["device"]] if recorded.get("device") else [])
            started.append(run.provenance.stat().st_mtime)
        if run.metrics.exists():
            ended.append(run.metrics.stat().st_mtime)
    lines.append(
        f"- commit: {', '.join(sorted(c for c in commits if c)) or info.get('commit', '?')}"
    )
    command = info.get("command")
    if not command and (sweep_dir / "multirun.yaml").exists():
        task = (yaml.safe_load((sweep_dir / "multirun.yaml").read_text()) or {}).get("hydra", {})
        command = "python src/train.py -m " + " ".join(task.get("overrides", {}).get("task", []))
    lines.append(f"- command: `{command}`")
    if info:
        lines.append(f"- date: {info.get('date', '?')}; machine: {info.get('machine', '?')}")
    elif ended:
        from biaslab.presets import machine  # the same words a preset's preset.json uses

        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(max(ended)))
        lines.append(f"- date: {when} (the last run's end); machine: {machine()}")
    if devices:  # each run's own record (runs from before the record have none)
        lines.append(f"- device: {'; '.join(sorted(devices))}")
    total = float(frame["time/total_s"].sum()) if "time/total_s" in frame else math.nan
    wall = info.get("wall_s")
    if wall:
        lines.append(f"- wall time: {wall:.0f} s for the whole preset")
    elif started and ended:
        lines.append(
            f"- wall time: {max(ended) - min(started):.0f} s from the first run's start to the "
            "last run's end (its files' times)"
        )
    lines.append(f"- sum of the runs' own times: {total:.0f} s over {len(frame)} runs")
    return lines


def report_dir_name(settings: dict[str, Any], primary, baseline, delta) -> str:
    """`report` for the sweep's own comparison (its `report:` config); another baseline, metric
    or delta gets its own folder, named by what differs (report_model=vit, report_model=vit_
    test_last-acc_0.02), so no report overwrites another."""
    own = (settings.get("baseline"), settings.get("primary") or "test/acc", settings.get("delta"))
    differs = [str(w) for w, o in zip((baseline, primary, delta), own) if w != o]
    if not differs:
        return "report"
    return "report_" + "_".join(re.sub(r"[^A-Za-z0-9._=-]+", "-", w) for w in differs)


def is_declared(sweep_dir: Path, primary: str, baseline: str | None, delta: float | None) -> bool:
    """Were these runs made under a declaration (`claim:` in every run's config, the same one)
    that names this comparison (its `report:` primary, baseline and delta, or one of
    `claim.comparisons`)?"""
    claims, reports = [], []
    for run in find_runs(sweep_dir):
        config = run.read_config()
        claims.append(json.dumps(config.get("claim"), sort_keys=True))
        reports.append(config.get("report") or {})
    if not claims or len(set(claims)) != 1 or json.loads(claims[0]) is None:
        return False
    claim, report = json.loads(claims[0]), reports[0]
    wanted = {"baseline": baseline, "metric": primary, "delta": delta}
    declared = [
        {
            "baseline": report.get("baseline"),
            "metric": report.get("primary") or "test/acc",
            "delta": report.get("delta"),
        }
    ]
    declared += [{k: c.get(k) for k in wanted} for c in claim.get("comparisons") or []]
    return wanted in declared


def _shown(path: Path) -> str:
    """A sweep dir as a command names it: relative to the repository when inside it."""
    from biaslab.presets import ROOT

    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def file_part(name: str) -> str:
    """A metric or key as part of a file name: `invariance/rotate +45` -> `invariance_rotate_+45`
    (no slashes, no spaces)."""
    return re.sub(r"[^\w.+=-]", "_", name)


def write_report(
    sweep_dir: str | Path,
    primary: str | None = None,
    baseline: str | None = None,
    delta: float | None = None,
    out_name: str | None = None,
) -> Path:
    """report.md, report.csv, one PNG per swept factor and metric, train-loss curves and the
    forest plot, in <sweep dir>/report/ for the sweep's own comparison, <sweep dir>/report_<...>/
    for another (or `out_name`). Unset options come from the sweep's `report:` config. The header
    names the command that rebuilds this very report. A published preset's packed files
    (`biaslab.analysis.pack`) are read as their run folders."""
    from biaslab.analysis.pack import unpacked

    dest = Path(sweep_dir)
    with unpacked(dest) as runs:
        return _write_report(runs, dest, primary, baseline, delta, out_name)


def _write_report(
    sweep_dir: Path,
    dest: Path,
    primary: str | None,
    baseline: str | None,
    delta: float | None,
    out_name: str | None,
) -> Path:
    settings = sweep_settings(sweep_dir)
    primary = primary or settings.get("primary") or "test/acc"
    baseline = baseline or settings.get("baseline")
    delta = delta if delta is not None else settings.get("delta")
    out_name = out_name or report_dir_name(settings, primary, baseline, delta)
    chart_metrics = list(dict.fromkeys([primary, *(settings.get("metrics") or [])]))
    frame = load_sweep(sweep_dir)
    add_derived(frame, settings)
    table = summarize(
        frame,
        metrics=(*DEFAULT_METRICS, *chart_metrics),
        primary=primary,
        baseline=baseline,
        delta=delta,
    )
    out = dest / out_name
    out.mkdir(exist_ok=True)
    table.to_csv(out / "report.csv", index=False)
    failed = frame[frame["status"] != "ok"]
    which = {
        "test/acc": "test accuracy of the best-validation checkpoint (ties go to the later epoch)",
        "test_last/acc": "test accuracy of the last epoch",
    }.get(primary, primary)
    p_best = table.attrs.get("best_vs_runner_up_p", math.nan)
    declared = is_declared(sweep_dir, primary, baseline, delta)
    compared = int(table["diff"].notna().sum()) if "diff" in table else 0
    preset = sweep_dir / "preset.json"
    name = dest.parent.name if dest.name == "final" else dest.name
    rebuild = " ".join(
        [
            "python scripts/report.py "
            + (f"docs/results/{name}" if preset.exists() else _shown(dest)),
            *(
                [f"--metric {primary}"]
                if primary != (settings.get("primary") or "test/acc")
                else []
            ),
            *([f"--baseline {baseline}"] if baseline != settings.get("baseline") else []),
            *(
                [f"--delta {delta:g}"]
                if delta is not None and delta != settings.get("delta")
                else []
            ),
            *(
                [f"--out {out_name}"]
                if out_name != report_dir_name(settings, primary, baseline, delta)
                else []
            ),
        ]
    )
    text = [
        f"# Preset {name}" if preset.exists() else f"# Sweep {dest.name}",
        "",
        *provenance(sweep_dir, frame),
        f"- this report: `{rebuild}`",
        "",
        f"Compared: **{which}**{registry(primary).direction_words}. {len(frame)} jobs, "
        f"{len(failed)} failed. Accuracy intervals: 95 %, seeds' variance plus the test set's "
        "binomial error (never zero-width); other metrics: t-interval over seeds. p (seeds): "
        "paired t-test over seeds (3 or more; test examples are not independent units), "
        f"Holm-corrected over the table's {compared} comparisons; MDE: the difference such a "
        "test detects with 80 % power at that correction"
        + (
            f"; equivalence: paired TOST within ±{delta:g} (δ, the declared smallest difference "
            "that matters: a difference inside it is `equivalent` even where the t-test detects it)"
            if delta
            else "; no equivalence bound set, so no 'equivalent'"
        )
        + (
            ". Declared before the runs (`claim:` in their config): verdict words."
            if declared
            else ". **Exploratory**: no declaration recorded with these runs for this comparison, "
            "so no verdict words: `+`/`−` a Holm-significant difference, `·` none."
        )
        + f" `*` only when the best arm beats the runner-up (p = {_fmt_p(p_best) or 'n/a'})."
        + (
            " These runs predate the final-weights reading: their `train_eval/*` were read at "
            "the best-validation weights."
            if "train_eval/acc" in frame and "train_eval_best/acc" not in frame
            else ""
        ),
        "",
        to_markdown(table, primary, declared),
    ]
    if plot_forest(table, primary, delta, out / "forest.png", settings.get("full_size")):
        text += ["", f"![{primary}: differences from the baseline](forest.png)"]
    for metric in chart_metrics:
        if f"{metric} mean" not in table:
            continue
        for factor in factors(frame):
            png = out / f"{file_part(factor)}__{file_part(metric)}.png"
            plot_factor(table, factor, metric, png, settings.get("full_size"))
            text += ["", f"![{metric} by {factor}]({png.name})"]
    for metric in settings.get("curves") or ["train/loss"]:
        png = f"curves_{file_part(metric)}.png"
        if plot_curves(frame, metric, out / png, settings.get("full_size")):
            text += ["", f"![{metric} per epoch]({png})"]
    if settings.get("loglog"):
        x, y = settings["loglog"]
        png = f"loglog_{file_part(y)}.png"
        text += [
            "",
            f"Scaling of {y} with {x} (log-log):",
            "",
            *loglog_exponents(frame, x, y, out / png),
            "",
            f"![{y} against {x}]({png})",
        ]
    tuning = sweep_dir / "tuning.json"
    if tuning.exists():
        entries = json.loads(tuning.read_text()).values()
        tuned_on = {e["metric"] for e in entries}
        text += [
            "",
            "Tuned per arm on the validation set before the seeds ran (chosen value; mean "
            "validation score per grid value):"
            if all(m.startswith("val/") for m in tuned_on)
            else f"Tuned per arm on {', '.join(sorted(tuned_on))} before the seeds ran (its last "
            "epoch's value during training; chosen value; mean over the tuning seeds per grid "
            "value):",
            "",
        ]
        for entry in entries:
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
                f"- {arm}: **{chosen}** ({entry['metric']}: {scores}){tie_words(entry)}"
                + (" — at the edge of the grid: the best value may lie beyond it" if edge else "")
            )
    (out / "report.md").write_text("\n".join(text) + "\n")
    return out
