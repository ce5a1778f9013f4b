"""docs/results.md, rebuilt from the committed per-run files and the presets' declarations.

For each preset that declares a `claim:` (conf/experiment/<preset>.yaml: id, claim, setup, what
would change it, further comparisons), its report is rebuilt from docs/results/<preset>/ alone
(table, intervals, p-values, the computed verdict words, charts); the verdict lines are read
from that table; the discussion against the lecture and the literature is the prose file
docs/results/<preset>/discussion.md beside the runs. No measured number is typed.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from biaslab.analysis.load import sweep_settings
from biaslab.analysis.metrics import metric as registry
from biaslab.analysis.pack import unpacked
from biaslab.analysis.pilot import seeds_asked
from biaslab.analysis.replication import runs_claim, section_tables
from biaslab.analysis.report import write_report
from biaslab.analysis.tables import narrow_markdown
from biaslab.analysis.verdicts import (
    comparison_lines,
    critical_lines,
    first_sentence,
    overview_row,
    provenance_line,
    seed_rule_line,
)
from biaslab.presets import preset_config
from biaslab.run.files import find_runs


def declared(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(preset, its `claim:` node) for every preset that declares one, in claim-id order; the
    digits versions (`*_quick`: smoke tests, and the guide's example) are listed apart."""
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
        arm = ", ".join(
            o for o in swept if not o.startswith(("seed=", "hydra", "logger", "extras", "trainer"))
        )
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


def write_page(root: Path) -> Path:
    """docs/results.md under `root`, from every preset that declares a `claim:`, in claim order;
    each section's report is rebuilt from docs/results/<preset>/ alone."""
    results = root / "docs" / "results"
    lines = [
        "# Results",
        "",
        "One section per claim of `../shared/lecture.md` (A.1, the framework itself, excepted). Every "
        "section is rebuilt by `python scripts/results_md.py` from the per-run files committed under "
        "`docs/results/<preset>/`, packed in a few files (`runs.csv`, a row per run; archives of each "
        "job's overrides, resolved config, metrics and provenance, of its per-epoch history and of its "
        "per-example test predictions; no checkpoints): `python scripts/report.py docs/results/<preset>` "
        "rebuilds one table and its charts. Each was produced by `python scripts/run_preset.py <preset> "
        "--publish` (all of them: `bash scripts/reproduce_lecture.sh`; `--list` prints each preset's wall "
        "time, the CPU its runs recorded and the lecture set's total) on 2-core x86_64 CPUs of "
        "two kinds, not equally fast; each report names its commit, command, device and wall time. "
        "Each preset declares its claim, comparisons, expected directions and ±δ in its YAML "
        "(`claim:`), and the runs record the declaration they were made under. Verdict words are "
        "computed by `biaslab.analysis.stats` (paired t-tests over seeds, Holm-corrected over the "
        "section's comparisons; `equivalent` needs the paired TOST within ±δ, and a difference "
        "inside ±δ is `equivalent` even where the t-test also detects it, since δ is the declared "
        "smallest difference that matters (its line says *nonzero, but inside ±δ*); otherwise "
        "`inconclusive`; a comparison is marked *underpowered*, whatever its word, when its "
        "minimum detectable effect exceeds what the seed rule asks of a difference this size (δ, "
        "or the difference's distance from ±δ where smaller, or half the difference beyond 2δ: "
        "its word may then change on a re-run), or when it ran fewer seeds than its declared seed "
        "rule's pilot asked for), never "
        "typed, and only for comparisons declared before their runs: a section whose runs predate "
        "its declaration is **exploratory** (differences, intervals and MDEs, no verdict words) "
        "until the preset is re-run. The digits versions of the earlier presets remain as "
        "`*_quick` (listed at the end).",
        "",
    ]
    overview: list[str] = []
    stack = ExitStack()
    for name, claim in declared(root):
        stack.close()  # the previous section's unpacked copy goes
        folder = results / name
        claim_id, setup, change = claim["id"], claim["setup"], claim["would_change"]
        lines += [
            f"## {claim_id} — `{name}`",
            "",
            f"**Claim.** {claim['text']}.",
            "",
            f"**Setup.** {setup}.",
        ]
        if claim.get("expected"):
            report_node = preset_config(name, [], root).report
            primary = report_node.primary or "test/acc"
            lines[-1] += (
                f" **Declared** (in the preset's YAML): primary `{primary}` "
                f"({registry(primary).label}) against `{report_node.baseline}`, δ = "
                f"{report_node.delta}; expected: {claim['expected']}; seeds: {claim.get('seeds')}."
            )
        if not (folder / "preset.json").exists():
            lines += [
                "",
                "**Not run yet** in this version: `bash scripts/reproduce_lecture.sh "
                f"{name}` runs it.",
                "",
            ]
            continue
        runs = stack.enter_context(unpacked(folder))  # a packed preset's run folders
        made_under = runs_claim(runs)
        decided = made_under == claim  # made under this very declaration
        ran = sweep_settings(runs)  # what the runs were made to compare (= the YAML's if decided)
        out = write_report(folder)
        report = (out / "report.md").read_text().split("\n", 2)[2]  # drop its title
        report = report.replace("](", f"](results/{name}/report/")  # image links, from docs/
        info = json.loads((folder / "preset.json").read_text())
        jobs = re.search(r"hydra\.launcher\.n_jobs=(\d+)", info["command"])  # as it was run
        where = where_run(runs)
        if where:  # split between a GPU and this CPU: say which runs ran where
            lines[-1] += (
                where + f" Wall time, both machines together: {info['wall_s'] / 60:.1f} min."
            )
        else:
            if jobs:
                lines[-1] += f" Run {jobs[1]} jobs at a time (joblib, one thread each)."
            lines[-1] += f" Wall time here: {info['wall_s'] / 60:.1f} min."
        if not decided and (made_under or {}).get("setup") not in (None, setup):
            lines[-1] += (
                f" **The runs shown** were made under an earlier design: {made_under['setup']}."
            )
        read_under = claim if decided else made_under or {}
        extras = read_under.get("comparisons") or []
        tables = section_tables(runs, out / "report.csv", ran, extras, seeds_asked(read_under))
        rule = seed_rule_line(tables) if decided else ""
        verdicts = [rule] if rule else []
        verdicts += critical_lines(folder, decided) + comparison_lines(tables[0], decided)
        for extra, table in zip(extras, tables[1:]):
            verdicts += [
                f"- on `{extra['metric']}`{registry(extra['metric']).direction_words} against "
                f"`{extra['baseline']}`"
                + "".join(f" at `{k}={v}`" for k, v in (extra.get("at") or {}).items())
                + ":",
                *(f"  {v}" for v in comparison_lines(table, decided)),
                *(
                    f"  - {arm}: the same pair as above, tested once"
                    for arm in table.attrs.get("repeated", [])
                ),
            ]
        family = tables[0].attrs.get("family", 0)
        heading = (
            f"**Verdicts** (computed; declared before the runs; Holm over the section's {family} "
            f"comparison{'s' * (family != 1)}):"
            if decided
            else "**Exploratory** (these runs were not made under this declaration, so no verdict "
            f"words: re-run the preset to decide; Holm over the section's {family} "
            f"comparison{'s' * (family != 1)}):"
        )
        primary_name = ran.get("primary") or "test/acc"
        lead = out / "forest.png"
        lines += [
            "",
            heading,
            "",
            *(verdicts or ["- (no baseline comparison)"]),
            "",
            *(
                [
                    f"![{primary_name}: differences from the baseline](results/{name}/report/forest.png)",
                    "",
                ]
                if lead.exists()
                else []
            ),
            narrow_markdown(tables[0], primary_name, decided)
            if f"{primary_name} mean" in tables[0]
            else "",
            "",
            f"The full table, charts and provenance: [`{name}` report](results/{name}/report/report.md) "
            f"({provenance_line(report)}).",
            "",
        ]
        discussion = folder / "discussion.md"
        stance = first_sentence(discussion.read_text()) if discussion.exists() else ""
        overview.append(overview_row(claim_id, name, decided, tables[0], ran.get("delta"), stance))
        if discussion.exists():
            text = discussion.read_text().strip()
            when = (
                ""
                if decided
                else (
                    " (written about these runs before their comparisons were declared; the words "
                    "in backticks were an earlier page's computed verdicts, not this page's)"
                )
            )
            lines += [f"**Against the lecture and the literature**{when}. {text}", ""]
        lines += [f"**What would change it.** {change}.", ""]
    quick = sorted(p.name for p in results.glob("*_quick"))
    renamed = [
        q
        for q in quick
        if q not in json.loads((results / q / "preset.json").read_text())["command"]
    ]
    lines += [
        "## The digits versions (`*_quick`)",
        "",
        "The earlier presets on scikit-learn's 8×8 digits, kept as fast smoke tests: "
        + ", ".join(f"[`{q}`](results/{q}/report/report.md)" for q in quick)
        + "."
        + (
            " The files of "
            + ", ".join(f"`{q}`" for q in renamed)
            + " were produced under the preset's previous name (without `_quick`)."
            if renamed
            else ""
        ),
        "",
    ]
    stack.close()
    at = lines.index("") + 1  # after the title
    lines[at:at] = [
        "| claim | preset | status | verdicts against the baseline (primary metric) | largest effect "
        "| against the lecture and the literature |",
        "|---|---|---|---|---|---|",
        *overview,
        "",
        "Status *declared*: run under its current declaration, so the verdict words are the "
        "computed ones; *exploratory*: its runs predate the declaration (differences and MDEs, "
        "no verdict words) until the preset is re-run. The last column is the first sentence of "
        "the section's discussion (written against the numbers, not computed); each section "
        "below says whether the lab agrees with the lecture and the literature, with the numbers.",
        "",
    ]
    page = root / "docs" / "results.md"
    page.write_text("\n".join(lines) + "\n")
    return page
