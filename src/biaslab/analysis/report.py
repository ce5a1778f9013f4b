"""A sweep's report under protocol v2: report.md, report.csv (the section's one family of
comparisons), arms.csv (each arm described), the forest plot and per-arm charts, train-loss
curves, a log-log scaling chart and the tuning picks, in <sweep dir>/report/. Thin: the files
are read by `biaslab.analysis.inputs`, the words decided by `biaslab.study.verdicts` (pure),
written by `biaslab.study.render` and `biaslab.study.charts`."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

from biaslab.analysis.inputs import Declared, read_runs
from biaslab.analysis.plots import plot_curves
from biaslab.analysis.provenance import provenance
from biaslab.analysis.scaling import loglog_exponents
from biaslab.study import charts, render
from biaslab.study.section import Section
from biaslab.study.spec import Preset
from biaslab.study.verdicts import decide_section

ROOT = Path(__file__).resolve().parents[3]  # the repository (src/biaslab/analysis/report.py)


def machine() -> str:
    """This machine in words, with the GPU's name where one is visible."""
    import torch

    words = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    return words + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")


def report_dir_name(settings: dict[str, Any], primary, baseline, delta) -> str:
    """`report` for the sweep's own comparison (its `report:` config); another baseline, metric
    or delta gets its own folder, named by what differs (report_model=vit), so no report
    overwrites another."""
    own = (settings.get("baseline"), settings.get("primary") or "test/acc", settings.get("delta"))
    differs = [str(w) for w, o in zip((baseline, primary, delta), own) if w != o]
    if not differs:
        return "report"
    return "report_" + "_".join(re.sub(r"[^A-Za-z0-9._=-]+", "-", w) for w in differs)


def file_part(name: str) -> str:
    """A metric or key as part of a file name: `invariance/rotate +45` -> `invariance_rotate_+45`."""
    return re.sub(r"[^\w.+=-]", "_", name)


def shown(path: Path) -> str:
    """A sweep dir as a command names it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def preset_of(name: str, decl: Declared, primary, baseline, delta) -> tuple[Preset, bool]:
    """The runs' declaration as a `Preset`, its primary comparison replaced by the options
    given; declared when the comparison is one the runs' claim declared (else exploratory,
    and the claim's further comparisons are left out of the family)."""
    node, report = dict(decl.node), dict(decl.node.get("report") or {})
    wanted = {"metric": primary or report.get("primary") or "test/acc", "baseline": baseline}
    wanted["baseline"] = baseline or report.get("baseline")
    wanted["delta"] = delta if delta is not None else report.get("delta")
    own = {"metric": report.get("primary") or "test/acc", "baseline": report.get("baseline")}
    own["delta"] = report.get("delta")
    claim = node.get("claim") or {}
    listed = [own] + [{k: c.get(k) for k in own} for c in claim.get("comparisons") or []]
    node["report"] = {**report, "primary": wanted["metric"], "baseline": wanted["baseline"]}
    node["report"]["delta"] = wanted["delta"]
    if wanted != own:
        node.pop("claim", None)
    return Preset.from_dict(name, node), decl.claimed and wanted in listed


def rebuild_command(dest: Path, name: str, options: list[str]) -> str:
    """The command that rebuilds this very report."""
    where = f"docs/results/{name}" if (dest / "preset.json").exists() else shown(dest)
    return " ".join(["python scripts/report.py " + where, *options])


def section_of(runs: Path, name: str, primary=None, baseline=None, delta=None):
    """(Section, frame, settings) of the runs under `runs` (read, then decided)."""
    frame, decl, correct = read_runs(runs)
    preset, declared = preset_of(name, decl, primary, baseline, delta)
    section = decide_section(frame, preset, correct, declared, decl.made_under)
    return section, frame, decl.node.get("report") or {}


def write_report(
    sweep_dir: str | Path,
    primary: str | None = None,
    baseline: str | None = None,
    delta: float | None = None,
    out_name: str | None = None,
) -> Path:
    """report.md and its files in <sweep dir>/report/ for the sweep's own comparison,
    <sweep dir>/report_<...>/ for another (or `out_name`). Unset options come from the runs'
    `report:` config. A published preset's packed files are read as their run folders."""
    return build(sweep_dir, primary, baseline, delta, out_name)[0]


def build(dest, primary=None, baseline=None, delta=None, out_name=None, look=None):
    """(report folder, Section, `look(runs)`): the report written, its values, and whatever
    `look` reads from the run folders while they are unpacked (the page's GPU line)."""
    from biaslab.analysis.pack import unpacked

    dest = Path(dest)
    name = dest.parent.name if dest.name == "final" else dest.name
    with unpacked(dest) as runs:
        section, frame, settings = section_of(runs, name, primary, baseline, delta)
        own = report_dir_name(settings, section.primary, section.baseline, section.delta)
        out = dest / (out_name or own)
        out.mkdir(exist_ok=True)
        options = [
            *([f"--metric {primary}"] if primary and primary != settings.get("primary") else []),
            *([f"--baseline {baseline}"] if baseline and baseline != settings.get("baseline") else []),
            *([f"--delta {delta:g}"] if delta is not None and delta != settings.get("delta") else []),
            *([f"--out {out_name}"] if out_name and out_name != own else []),
        ]  # fmt: skip
        head = [
            *provenance(runs, frame, machine),
            f"- this report: `{rebuild_command(dest, name, options)}`",
        ]
        text = _body(section, frame, settings, out, runs)
        title = f"# Preset {name}" if (dest / "preset.json").exists() else f"# Sweep {dest.name}"
        (out / "report.md").write_text("\n".join([title, "", *head, *text]) + "\n")
        seen = look(runs) if look else None
    return out, section, seen


def _body(section: Section, frame, settings: dict[str, Any], out: Path, runs: Path) -> list[str]:
    """Everything under the header: the values' tables, then the charts' links."""
    from biaslab.study.tables import write_tables

    write_tables(section, out)
    full = settings.get("full_size")
    text = [render.protocol_line(section), "", render.method(section)]
    flag = render.needs_new_runs(section)
    text += ["", flag] if flag else []
    text += [
        "",
        f"{section.jobs} jobs, {section.failed} failed. Comparisons (one Holm family):",
        "",
        render.comparisons_table(section),
    ]
    if charts.plot_forest(section, out / "forest.png", full):
        text += ["", f"![{section.primary}: each decision against ±δ](forest.png)"]
    text += [
        "",
        "Per arm (described: mean ± 95 % interval over seeds):",
        "",
        render.arms_table(section),
    ]
    for metric in dict.fromkeys([section.primary, *(settings.get("metrics") or [])]):
        png = f"arms__{file_part(metric)}.png"
        if charts.arm_chart(section, metric, out / png, full):
            text += ["", f"![{metric} per arm]({png})"]
    return text + _extras(frame, settings, out, runs)


def _extras(frame, settings: dict[str, Any], out: Path, runs: Path) -> list[str]:
    """Curves, log-log scaling and the tuning picks, where the runs have them."""
    text = []
    for metric in settings.get("curves") or ["train/loss"]:
        png = f"curves_{file_part(metric)}.png"
        if plot_curves(frame, metric, out / png, settings.get("full_size")):
            text += ["", f"![{metric} per epoch]({png})"]
    if settings.get("loglog"):
        x, y = settings["loglog"]
        png = f"loglog_{file_part(y)}.png"
        found = loglog_exponents(frame, x, y, out / png)
        text += [
            "",
            f"Scaling of {y} with {x} (log-log):",
            "",
            *found,
            "",
            f"![{y} against {x}]({png})",
        ]
    tuning = runs / "tuning.json"
    if tuning.exists():
        text += ["", *tuning_lines(list(json.loads(tuning.read_text()).values()))]
    return text


def tuning_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The tuning picks per arm: the chosen value, the scores per grid value, the tie."""
    tuned_on = {e["metric"] for e in entries}
    lines = [
        "Tuned per arm on the validation set before the seeds ran (chosen value; mean "
        "validation score per grid value):"
        if all(m.startswith("val/") for m in tuned_on)
        else f"Tuned per arm on {', '.join(sorted(tuned_on))} before the seeds ran (its last "
        "epoch's value during training; chosen value; mean over the tuning seeds per grid "
        "value):",
        "",
    ]
    for e in entries:
        arm = ",".join(f"{k}={v}" for k, v in e["arm"].items())
        scores = ", ".join(f"{k}: {v:.4f}" for k, v in e["scores"].items())
        chosen = ",".join(f"{k}={v}" for k, v in e["chosen"].items())
        lines.append(
            f"- {arm}: **{chosen}** ({e['metric']}: {scores}){render.tie_words(e)}{edge(e)}"
        )
    return lines


def edge(entry: dict[str, Any]) -> str:
    """' — at the edge of the grid…' where the pick is an end of a numeric grid of 3+ values."""
    try:
        grid = [float(v) for v in entry["scores"]]
        chosen = float(next(iter(entry["chosen"].values())))
    except (TypeError, ValueError):
        return ""
    if len(grid) > 2 and chosen in (min(grid), max(grid)):
        return " — at the edge of the grid: the best value may lie beyond it"
    return ""
