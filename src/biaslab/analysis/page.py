"""docs/results.md, rebuilt from the committed per-run files and the presets' declarations.

For each preset that declares a `claim:` (conf/experiment/<preset>.yaml: id, claim, setup, what
would change it, further comparisons), its report is rebuilt from docs/results/<preset>/ alone
(table, intervals, p-values, the computed verdict words, charts); the verdict lines are read
from that table; the discussion against the lecture and the literature is the prose file
docs/results/<preset>/discussion.md beside the runs. No measured number is typed.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from biaslab.analysis.derived import add_derived
from biaslab.analysis.load import load_sweep, sweep_settings
from biaslab.analysis.report import write_report
from biaslab.analysis.tables import summarize
from biaslab.presets import preset_config
from biaslab.run.files import find_runs


def declared(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(preset, its `claim:` node) for every preset that declares one, in claim-id order."""
    found = []
    for path in (root / "conf" / "experiment").glob("*.yaml"):
        claim = (yaml.safe_load(path.read_text()) or {}).get("claim")
        if claim:
            found.append((path.stem, claim))
    return sorted(found, key=lambda item: (str(item[1]["id"]), item[0]))


def critical_lines(folder: Path) -> list[str]:
    """A.3: per arm, is the minimum ratio below 1 (the upper 95 % bound < 1)? Are there
    negative eigenvalues (a saddle) at points whose gradient norm was driven down?"""
    table = pd.read_csv(folder / "report" / "report.csv")
    if "critical/min_ratio mean" not in table:
        return []
    out = []
    for _, r in table.iterrows():
        mean, half = r["critical/min_ratio mean"], r["critical/min_ratio ci95"]
        neg = r["critical/negative_ratio mean"]
        word = (
            "below 1"
            if mean + half < 1
            else ("1 (a minimum)" if mean - half >= 1 else "inconclusive")
        )
        out.append(
            f"- {r['arm']}: minimum ratio **{word}** ({mean:.3f} ± {half:.3f}); negative eigenvalues "
            f"{neg:.3f} of the spectrum ({'a saddle' if neg > 0 else 'none'}), gradient norm "
            f"{r['critical/grad_norm_0 mean']:.3g} → {r['critical/grad_norm mean']:.3g}, loss "
            f"{r['critical/loss mean']:.3f}"
        )
    return out


def verdict_lines(folder: Path, table=None) -> list[str]:
    """One line per compared arm, from the rebuilt report's table: verdict, difference, p."""
    table = pd.read_csv(folder / "report" / "report.csv") if table is None else table
    if "verdict" not in table:
        return []
    out = []
    for _, r in table.iterrows():
        if isinstance(r.get("verdict"), str) and r["verdict"]:
            diff, half = r["diff"], r.get("diff ci95", math.nan)
            out.append(
                f"- {r['arm']}: **{r['verdict']}** (difference {diff:+.4f} ± {half:.4f}, "
                f"Holm p = {r['p holm']:.3g})"
            )
    return out


def where_run(folder: Path) -> str:
    """Which runs of a preset ran on a GPU and which on the CPU, from each run's resolved config."""
    gpu, cpu = 0, {}
    for run in find_runs(folder):
        if run.read_config()["trainer"]["accelerator"] == "gpu":
            gpu += 1
            continue
        swept = run.read_overrides()
        arm = ", ".join(
            o for o in swept if o.split("=")[0] in ("model", "data.train_per_class", "augment")
        )
        cpu[arm] = cpu.get(arm, 0) + 1
    if not cpu:
        return ""
    return (
        f" {gpu} of {gpu + sum(cpu.values())} runs ran on the GPU (each run's `trainer.accelerator` "
        "in its config_resolved.yaml); the rest ran on this 2-core CPU, same command without "
        "`trainer=gpu`, after the device budget ran out: "
        + "; ".join(f"{arm} ({n} seed{'s' if n > 1 else ''})" for arm, n in cpu.items())
        + "."
    )


def write_page(root: Path) -> Path:
    """docs/results.md under `root`, from every preset that declares a `claim:`, in claim order;
    each section's report is rebuilt from docs/results/<preset>/ alone."""
    results = root / "docs" / "results"
    lines = [
        "# Results",
        "",
        "One section per claim of `../shared/lecture.md` (A.1, the framework itself, excepted). Every "
        "section is rebuilt by `python scripts/results_md.py` from the per-run files committed under "
        "`docs/results/<preset>/` (each job's overrides, resolved config, metrics, per-epoch history and "
        "per-example test predictions; no checkpoints): `python scripts/report.py docs/results/<preset>` "
        "rebuilds one table and its charts. Each was produced by `python scripts/run_preset.py <preset> "
        "--publish` (all of them: `bash scripts/reproduce_lecture.sh`; `--list` prints each preset's wall "
        "time here) on a 2-core x86_64 CPU; each report names its commit, command and wall time. Verdict "
        "words are computed by `biaslab.analysis.stats` (paired t-tests over seeds, Holm-corrected over the "
        "preset's comparisons; `equivalent` needs the paired TOST within the preset's ±δ; otherwise "
        "`inconclusive`), never typed. The digits versions of the earlier presets remain as "
        "`*_quick` (listed at the end).",
        "",
    ]
    for name, claim in declared(root):
        folder = results / name
        claim_id, setup, change = claim["id"], claim["setup"], claim["would_change"]
        lines += [
            f"## {claim_id} — `{name}`",
            "",
            f"**Claim.** {claim['text']}.",
            "",
            f"**Setup.** {setup}.",
        ]
        if not (folder / "preset.json").exists():
            lines += [
                "",
                "**Not run yet** in this version: `bash scripts/reproduce_lecture.sh "
                f"{name}` runs it.",
                "",
            ]
            continue
        report_cfg = preset_config(name, [], root).report  # its current baseline and delta
        out = write_report(folder, baseline=report_cfg.baseline, delta=report_cfg.delta)
        report = (out / "report.md").read_text().split("\n", 2)[2]  # drop its title
        report = report.replace("](", f"](results/{name}/report/")  # image links, from docs/
        info = json.loads((folder / "preset.json").read_text())
        jobs = re.search(r"hydra\.launcher\.n_jobs=(\d+)", info["command"])  # as it was run
        where = where_run(folder)
        if where:  # split between a GPU and this CPU: say which runs ran where
            lines[-1] += (
                where + f" Wall time, both machines together: {info['wall_s'] / 60:.1f} min."
            )
        else:
            if jobs:
                lines[-1] += f" Run {jobs[1]} jobs at a time (joblib, one thread each)."
            lines[-1] += f" Wall time here: {info['wall_s'] / 60:.1f} min."
        verdicts = critical_lines(folder) or verdict_lines(folder)
        for extra in claim.get("comparisons") or []:
            baseline, metric, delta = extra["baseline"], extra["metric"], extra["delta"]
            frame = load_sweep(folder)
            add_derived(frame, sweep_settings(folder))
            extra = summarize(frame, primary=metric, baseline=baseline, delta=delta)
            verdicts += [
                f"- on `{metric}` against `{baseline}`"
                + (
                    ""
                    if metric.endswith("acc") and not metric.startswith("gap/")
                    else " (lower is better)"
                )
                + ":",
                *(f"  {v}" for v in verdict_lines(folder, extra)),
            ]
        lines += [
            "",
            "**Verdicts** (computed):",
            "",
            *(verdicts or ["- (no baseline comparison)"]),
            "",
            report.strip(),
            "",
        ]
        discussion = folder / "discussion.md"
        if discussion.exists():
            text = discussion.read_text().strip()
            lines += [f"**Against the lecture and the literature.** {text}", ""]
        lines += [f"**What would change it.** {change}.", ""]
    quick = sorted(p.name for p in results.glob("*_quick"))
    lines += [
        "## The digits versions (`*_quick`)",
        "",
        "The earlier presets on scikit-learn's 8×8 digits, kept as fast smoke tests; their files were "
        "produced under the preset's previous name (without `_quick`): "
        + ", ".join(f"[`{q}`](results/{q}/report/report.md)" for q in quick)
        + ".",
        "",
    ]
    page = root / "docs" / "results.md"
    page.write_text("\n".join(lines) + "\n")
    return page
