"""docs/results.md, rebuilt from the committed per-run files and the presets' declarations, under
protocol v2 (`docs/protocol.md`).

For each preset that declares a `claim:` (conf/experiment/<preset>.yaml), its report is rebuilt
from docs/results/<preset>/ alone (`biaslab.analysis.report.build`), and the section's verdict
lines are the same `Section` values the report holds (one Holm family, the same in both). The
discussion against the lecture and the literature is the prose file discussion.md beside the
runs. No measured number is typed. A page reads every section under one protocol version: a
preset.json made under a protocol this code does not know is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from biaslab.analysis.metrics import metric as registry
from biaslab.analysis.report import build
from biaslab.analysis.verdicts import critical_lines, first_sentence, provenance_line, section_row
from biaslab.errors import ConfigError
from biaslab.run.files import find_runs
from biaslab.study import render
from biaslab.study.protocol import PROTOCOL_VERSION
from biaslab.study.section import Section
from biaslab.study.spec import Preset

INTRO = (
    "One section per claim of `../shared/lecture.md` (A.1, the framework itself, excepted). Every "
    "section is rebuilt by `python scripts/results_md.py` from the per-run files committed under "
    "`docs/results/<preset>/` (`runs.csv`, a row per run; archives of each job's overrides, "
    "resolved config, metrics and provenance, of its per-epoch history and of its per-example "
    "test predictions; no checkpoints): `python scripts/report.py docs/results/<preset>` "
    "rebuilds one report and its charts. Each was produced by `python scripts/run_preset.py "
    "<preset> --publish` on 2-core x86_64 CPUs of two kinds, not equally fast; each report names "
    "its commit, command, device and wall time. Each preset declares its claim, comparisons, "
    "expected directions and ±δ in its YAML (`claim:`), and the runs record the declaration "
    "they were made under. Every word is computed under **protocol v{v}** "
    "([docs/protocol.md](protocol.md)): a paired bootstrap over seeds and test examples, one "
    "Holm family per section (the same family as the section's report), and one interval per "
    "comparison, at its Holm level, read against ±δ: `better (beyond δ)`, `better (within δ)`, "
    "`better (vs δ undecided)` (and the same for `worse`), `equivalent (within ±δ)`, "
    "`inconclusive`, or `too few seeds`; counts by Barnard's exact test. The runs on this page "
    "were made under protocol 1; a section whose tuning seeds are among its compared seeds is "
    "marked: its v2 reading needs new runs. A section whose runs predate its declaration is "
    "**exploratory** (differences and intervals, no words) until the preset is re-run. The "
    "digits versions of the earlier presets remain as `*_quick` (listed at the end)."
)


def declared(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(preset, its `claim:` node) for every preset that declares one, in claim-id order; the
    digits versions (`*_quick`) are listed apart."""
    found = []
    for path in (root / "conf" / "experiment").glob("*.yaml"):
        if path.stem.endswith("_quick"):
            continue
        claim = (yaml.safe_load(path.read_text()) or {}).get("claim")
        if claim:
            found.append((path.stem, claim))
    return sorted(found, key=lambda item: (str(item[1]["id"]), item[0]))


def where_run(folder: Path) -> str:
    """Which runs ran on a GPU (each run's `trainer.accelerator`), said only when some did and
    some did not, with each arm's count of CPU runs."""
    runs = find_runs(folder)
    cpu: dict[str, int] = {}
    for run in runs:
        if run.read_config()["trainer"]["accelerator"] == "gpu":
            continue
        swept = run.read_overrides() or []
        skip = ("seed=", "hydra", "logger", "extras", "trainer")
        arm = ", ".join(o for o in swept if not o.startswith(skip))
        cpu[arm or "all"] = cpu.get(arm or "all", 0) + 1
    gpu = len(runs) - sum(cpu.values())
    if not gpu or not cpu:
        return ""
    return (
        f" {gpu} of {len(runs)} runs ran on the GPU (each run's `trainer.accelerator` in its "
        "config_resolved.yaml); the other runs ran on this 2-core CPU with the same command "
        "without `trainer=gpu`: "
        + "; ".join(f"{arm} ({n} run{'s' if n > 1 else ''})" for arm, n in cpu.items())
        + "."
    )


def look(runs: Path) -> tuple[str, Any]:
    """What the page reads from the unpacked runs: the GPU line and the runs' own claim."""
    claims = {json.dumps(r.read_config().get("claim"), sort_keys=True) for r in find_runs(runs)}
    return where_run(runs), (json.loads(claims.pop()) if len(claims) == 1 else None)


def check_version(name: str, folder: Path) -> int:
    """The protocol the runs were made under (preset.json's `protocol`, else 1); one this code
    does not know is refused: a page never mixes versions."""
    made = json.loads((folder / "preset.json").read_text()).get("protocol", 1)
    if made not in range(1, PROTOCOL_VERSION + 1):
        raise ConfigError(
            f"docs/results/{name}/preset.json records protocol {made!r}, which this code "
            f"(protocol v{PROTOCOL_VERSION}) does not know; rebuild the page with the code that "
            "made it, or re-run the preset."
        )
    return made


def setup_line(name: str, root: Path, claim: dict[str, Any], info: dict, where: str) -> str:
    """The section's setup sentence with its declared primary and where it ran."""
    line = f"**Setup.** {claim['setup']}."
    if claim.get("expected"):
        report = Preset.from_yaml(root / "conf" / "experiment" / f"{name}.yaml").report
        primary = report.primary
        line += (
            f" **Declared** (in the preset's YAML): primary `{primary}` "
            f"({registry(primary).label}) against `{report.baseline}`, δ = "
            f"{report.delta}; expected: {claim['expected']}; seeds: {claim.get('seeds')}."
        )
    jobs = re.search(r"hydra\.launcher\.n_jobs=(\d+)", info["command"])
    if where:
        return line + where + f" Wall time, both machines together: {info['wall_s'] / 60:.1f} min."
    if jobs:
        line += f" Run {jobs[1]} jobs at a time (joblib, one thread each)."
    return line + f" Wall time here: {info['wall_s'] / 60:.1f} min."


def verdict_block(name: str, section: Section, folder: Path) -> list[str]:
    """The section's verdicts: its protocol, the heading, the lines, the forest, the link."""
    m = section.family_size
    family = f"Holm over the section's one family of {m} comparison{'s' * (m != 1)}"
    heading = (
        f"**Verdicts** (computed under protocol v{section.protocol}; declared before the runs; "
        f"{family}):"
        if section.declared
        else "**Exploratory** (these runs were not made under this declaration, so no verdict "
        f"words: re-run the preset to decide; {family}):"
    )
    flag = render.needs_new_runs(section)
    lines = ["", f"*Protocol v{section.protocol} reads runs made under protocol "
             f"{section.made_under} (preset.json).*", ""]  # fmt: skip
    lines += [flag, ""] if flag else []
    lines += [heading, "", *(render.verdict_lines(section) or ["- (no baseline comparison)"])]
    lines += critical_lines(folder, section.declared)
    if (folder / "report" / "forest.png").exists():
        lines += ["", f"![{section.primary}: each decision](results/{name}/report/forest.png)"]
    report = (folder / "report" / "report.md").read_text()
    lines += [
        "",
        f"The full tables, charts and provenance: [`{name}` report](results/{name}/report/"
        f"report.md) ({provenance_line(report)}).",
        "",
    ]
    return lines


def section_lines(name: str, claim: dict[str, Any], root: Path) -> tuple[list[str], str]:
    """(the section's lines, its row of the opening table)."""
    folder = root / "docs" / "results" / name
    lines = [f"## {claim['id']} — `{name}`", "", f"**Claim.** {claim['text']}.", ""]
    if not (folder / "preset.json").exists():
        setup = f"**Setup.** {claim['setup']}."
        todo = (
            f"**Not run yet** in this version: `bash scripts/reproduce_lecture.sh {name}` runs it."
        )
        return [*lines, setup, "", todo, ""], ""
    check_version(name, folder)
    _, section, (where, made_under) = build(folder, look=look)
    decided = made_under == claim and section.declared
    section = section if decided else _exploratory(section)
    info = json.loads((folder / "preset.json").read_text())
    setup = setup_line(name, root, claim, info, where)
    if not decided and (made_under or {}).get("setup") not in (None, claim["setup"]):
        setup += f" **The runs shown** were made under an earlier design: {made_under['setup']}."
    lines += [setup, *verdict_block(name, section, folder)]
    discussion = folder / "discussion.md"
    stance = first_sentence(discussion.read_text()) if discussion.exists() else ""
    if discussion.exists():
        when = discussion_when(decided, section)
        lines += [
            f"**Against the lecture and the literature**{when}. {discussion.read_text().strip()}",
            "",
        ]
    lines += [f"**What would change it.** {claim['would_change']}.", ""]
    return lines, section_row(claim["id"], name, section, stance)


def discussion_when(decided: bool, section: Section) -> str:
    """What the discussion was written against, where it is not this page's words."""
    if not decided:
        return " (written about these runs before their comparisons were declared)"
    if section.made_under < section.protocol:
        return (
            f" (written against the protocol-{section.made_under} page's words, in backticks; "
            f"the words above are protocol v{section.protocol}'s)"
        )
    return ""


def _exploratory(section: Section) -> Section:
    """The same values, read as exploratory (no words shown)."""
    from dataclasses import replace

    return replace(section, declared=False)


def quick_lines(results: Path) -> list[str]:
    """The digits versions' list, naming those produced under an earlier name."""
    quick = sorted(p.name for p in results.glob("*_quick"))
    renamed = [
        q
        for q in quick
        if q not in json.loads((results / q / "preset.json").read_text())["command"]
    ]
    said = " The files of " + ", ".join(f"`{q}`" for q in renamed) + " were produced under the "
    return [
        "## The digits versions (`*_quick`)",
        "",
        "The earlier presets on scikit-learn's 8×8 digits, kept as fast smoke tests: "
        + ", ".join(f"[`{q}`](results/{q}/report/report.md)" for q in quick)
        + "."
        + (said + "preset's previous name (without `_quick`)." if renamed else ""),
        "",
    ]


def write_page(root: Path) -> Path:
    """docs/results.md under `root`, from every preset that declares a `claim:`, in claim order;
    each section's report is rebuilt from docs/results/<preset>/ alone."""
    sections, overview = [], []
    for name, claim in declared(root):
        lines, row = section_lines(name, claim, root)
        sections += lines
        overview += [row] if row else []
    head = [
        "| claim | preset | status | words of the section's family (protocol v"
        f"{PROTOCOL_VERSION}) | largest effect on the primary | against the lecture and the "
        "literature |",
        "|---|---|---|---|---|---|",
        *overview,
        "",
        "Status *declared*: run under its current declaration, so the words are the computed "
        "ones; *exploratory*: its runs predate the declaration (differences and intervals, no "
        "words) until the preset is re-run. The last column is the first sentence of the "
        "section's discussion (written against the numbers, not computed).",
        "",
    ]
    intro = INTRO.format(v=PROTOCOL_VERSION)
    lines = ["# Results", "", *head, intro, "", *sections, *quick_lines(root / "docs" / "results")]
    page = root / "docs" / "results.md"
    page.write_text("\n".join(lines) + "\n")
    return page
