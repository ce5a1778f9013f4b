"""A section's verdicts as data, and a replication read against the page: does a re-run of a
preset with seeds the page never used give the same verdict words, except where the page says
the comparison is underpowered? (`scripts/replicate.py` runs one and prints this.)"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from biaslab.analysis.derived import add_derived
from biaslab.analysis.load import load_sweep, sweep_settings
from biaslab.analysis.pack import unpacked
from biaslab.analysis.pilot import seeds_asked
from biaslab.analysis.tables import drop_repeated_pairs, holm_family, restrict, summarize
from biaslab.errors import ConfigError
from biaslab.run.files import find_runs

CLOSING = (
    "{} of {} verdict words the same; {} differ where the page says the comparison is "
    "underpowered; {} differ where it does not."
)
COUNTS = re.compile(re.escape(CLOSING).replace(r"\{\}", r"(\d+)"))  # reads CLOSING back


def runs_claim(folder: Path) -> Any:
    """The declaration the runs were made under (`claim:` in their configs), or None."""
    claims = {json.dumps(r.read_config().get("claim"), sort_keys=True) for r in find_runs(folder)}
    return json.loads(claims.pop()) if len(claims) == 1 else None


def section_tables(
    runs: Path,
    report_csv: Path,
    ran: dict[str, Any],
    comparisons: list[dict[str, Any]],
    asked: int | None = None,
) -> list[pd.DataFrame]:
    """The section's comparison tables: the report's primary one (`report_csv`), then one per
    further declared comparison; a pair of arms tested once, and one Holm family over all
    (`asked`: the seeds the declared seed rule's pilot asked for, see `pilot.seeds_asked`)."""
    frame = load_sweep(runs)
    add_derived(frame, ran)
    tables = [pd.read_csv(report_csv)]
    tables[0].attrs.update(
        primary=ran.get("primary") or "test/acc",
        delta=ran.get("delta"),
        baseline=ran.get("baseline"),
    )
    for extra in comparisons:
        tables.append(
            summarize(
                restrict(frame, extra.get("at")),
                primary=extra["metric"],
                baseline=extra["baseline"],
                delta=extra["delta"],
            )
        )
    for table in tables:
        table.attrs["asked"] = asked
    if "p seeds" in tables[0]:
        drop_repeated_pairs(tables)
        holm_family(tables)
    return tables


def verdict_words(tables: list[pd.DataFrame]) -> dict[tuple[str, str, str], tuple]:
    """(metric, baseline, arm) -> (verdict word, underpowered?, the difference ± its 95 %
    interval) for every tested comparison (an arm may be compared with two baselines)."""
    words = {}
    for table in tables:
        if "verdict" not in table:
            continue
        for _, r in table.iterrows():
            if r["diff"] == r["diff"] and r["p holm"] == r["p holm"]:
                words[(table.attrs["primary"], str(table.attrs["baseline"]), str(r["arm"]))] = (
                    str(r["verdict"]),
                    bool(r["underpowered"]),
                    f"{r['diff']:+.4f} ± {r['diff ci95']:.4f}",
                )
    return words


def read_against(page: dict[tuple, tuple], again: dict[tuple, tuple]):
    """Markdown rows (metric and baseline, arm, the page's word, the re-run's, how they
    compare; each word with its difference where known) and the count of comparisons whose
    word changed where the page did not call them underpowered."""
    rows, broken = [], 0
    for key, (word, underpowered, *numbers) in page.items():
        other, _, *other_numbers = again.get(key, ("(not tested)", False))
        if other == word:
            how = "same"
        elif underpowered:
            how = "differs; the page says underpowered"
        else:
            how, broken = "**differs**", broken + 1
        said = [f"{w} ({n[0]})" if n else w for w, n in ((word, numbers), (other, other_numbers))]
        metric, baseline, arm = key
        rows.append(f"| `{metric}` against {baseline} | {arm} | {said[0]} | {said[1]} | {how} |")
    return rows, broken


def seeds_of(runs: Path) -> list[int]:
    """The seeds a preset's run folders ran, sorted (read from their configs)."""
    return sorted({int(r.read_config()["seed"]) for r in find_runs(runs)})


def words_of(runs: Path, report_csv: Path, claim: dict[str, Any]) -> dict:
    """The verdict words of a preset's runs (its report's table and its declared comparisons)."""
    tables = section_tables(
        runs, report_csv, sweep_settings(runs), claim.get("comparisons") or [], seeds_asked(claim)
    )
    return verdict_words(tables)


def replicate(
    name: str,
    page: Path,
    out: Path,
    seeds: range | None = None,
    extra: list[str] = (),
    reread: bool = False,
) -> tuple[str, int]:
    """Re-run preset `name` into `out` with `seeds` (none of which the runs in `page` used;
    default: from 1000, as many as the page has; a tuned preset tunes again on seeds shifted by
    as much), then read its verdict words against
    the page's: the markdown of that reading (also written to out/replication.md) and the count
    of words that changed where the page did not call the comparison underpowered. `reread`:
    run nothing, read the re-run already in `out` with this code's statistics."""
    from omegaconf import OmegaConf

    from biaslab.presets import ROOT, preset_config, run_preset
    from biaslab.run.provenance import commit_of, is_dirty

    cfg = preset_config(name, list(extra))
    claim = OmegaConf.to_container(cfg.claim, resolve=True) if cfg.get("claim") else None
    with unpacked(page) as runs:
        made_under = runs_claim(runs)
        used = seeds_of(runs)
        seeds = seeds or range(1000, 1000 + len(used))
        if claim is None or made_under != claim:
            raise ConfigError(
                f"{page} holds no runs of {name}'s current declaration (claim:), so it has no "
                "verdict words to replicate; run the preset first (scripts/run_preset.py)."
            )
        if set(used) & set(seeds):
            raise ConfigError(
                f"--seeds {seeds.start}:{seeds.stop} overlaps the seeds the page used "
                f"({used[0]}-{used[-1]}); pick seeds it never used, e.g. --seeds "
                f"1000:{1000 + len(used)}."
            )
        before = words_of(runs, Path(page) / "report" / "report.csv", claim)
        picks = (
            json.loads((runs / "tuning.json").read_text())
            if (runs / "tuning.json").exists()
            else {}
        )
    if reread and not (Path(out) / "final" / "preset.json").exists():
        raise ConfigError(
            f"--reread reads a finished re-run and {out} holds none; run the same command "
            "without --reread first."
        )
    again = [*extra, f"hydra.sweeper.params.seed='range({seeds.start},{seeds.stop})'"]
    if cfg.get("tune"):
        again.append(f"tune.seeds=[{','.join(str(seeds.start + s) for s in cfg.tune.seeds)}]")
    final = Path(out) / "final" if reread else run_preset(name, again, out=out)
    made = json.loads((final / "preset.json").read_text())
    ran = seeds_of(final)  # --reread: the seeds as run, not --seeds
    after = words_of(final, final / "report" / "report.csv", claim)
    rows, broken = read_against(before, after)
    repicks = json.loads((final / "tuning.json").read_text()) if picks else {}
    same = sum(r.endswith("| same |") for r in rows)
    text = "\n".join(
        [
            f"# {name}: a re-run with seeds the page never used",
            "",
            f"The page: {shown(page)} (seeds {used[0]}-{used[-1]}); the re-run: {shown(final)} (seeds "
            f"{ran[0]}-{ran[-1]}), made by `{made['command']}` at commit "
            f"{made['commit']}, {made['date']}, on {made['machine']}, "
            f"{made['wall_s'] / 60:.1f} min; read with the statistics at commit "
            f"{(commit_of(ROOT) or '?')[:7]}{' (uncommitted changes)' if is_dirty(ROOT) else ''}.",
            *(tuning_line(arm, entry, repicks.get(arm, {})) for arm, entry in picks.items()),
            "",
            "| metric, against | arm | the page | the re-run | |",
            "|---|---|---|---|---|",
            *rows,
            "",
            CLOSING.format(same, len(rows), len(rows) - same - broken, broken),
        ]
    )
    (Path(out) / "replication.md").write_text(text + "\n")
    return text, broken


SUMMARY = "\nRead together ("
PICKED = re.compile(
    r"^- tuning, .*: the page picked (\{.*?\})(?: \(tied with it there: (.*)\))?, "
    r"the re-run (\{.*\})$",
    re.M,
)


def tuning_line(arm: str, page: dict[str, Any], rerun: dict[str, Any]) -> str:
    """One arm's tuning pick on the page (with the values its tie rule could not order from it,
    `tied` in tuning.json) and in the re-run."""
    tied = page.get("tied") or []
    return (
        f"- tuning, {arm}: the page picked {page['chosen']}"
        + (f" (tied with it there: {', '.join(tied)})" if len(tied) > 1 else "")
        + f", the re-run {rerun.get('chosen')}"
    )


def picks_kept(picks: list[tuple[str, str, str]]) -> tuple[int, int]:
    """(re-run picks equal to the page's, re-run picks among the values tied on the page), from
    PICKED's matches: a value the page's tie rule could not tell from its pick is kept up to
    noise."""
    same = tied = 0
    for page, ties, rerun in picks:
        value = ",".join(str(v) for v in ast.literal_eval(rerun).values())
        same += page == rerun
        tied += page == rerun or value in ties.split(", ")
    return same, tied


def summary(sections: dict[str, str]) -> str:
    """One table over the recorded sections, counted from each section's own closing line
    (a section without one is left out) and its tuning lines, so the file opens with what a
    reader checks first: the verdict words, and whether the re-run's tuning picked the same."""
    rows, totals = [], [0] * 7
    for name in sorted(sections):
        found = COUNTS.search(sections[name])
        seeds = re.search(r"\(seeds (\d+-\d+)\), made by", sections[name])
        if not found:
            continue
        picks = PICKED.findall(sections[name])
        counts = [int(x) for x in found.groups()]
        counts += [*picks_kept(picks), len(picks)]
        totals = [a + b for a, b in zip(totals, counts)]
        same, total, excused, broken, kept, tied, tuned = counts
        rows.append(
            f"| {name} | {seeds.group(1) if seeds else '?'} | {same} of {total} | {excused} | "
            f"{broken} | {f'{kept} of {tuned}' if tuned else 'not tuned'} | "
            f"{f'{tied} of {tuned}' if tuned else ''} |"
        )
    same, total, excused, broken, kept, tied, tuned = totals
    return (
        f"{SUMMARY.lstrip()}presets re-run: {len(rows)}): {same} of {total} verdict words the same, "
        f"{excused} differ where the page says the comparison is underpowered, {broken} where it "
        f"does not; the re-runs' tuning picked the page's value in {kept} of {tuned} arms, and "
        f"one the page's tie rule could not tell from it in {tied - kept} more.\n\n"
        "| preset | the re-run's seeds | words the same | differ, underpowered | "
        "differ, not underpowered | tuning picks the same | the same or tied on the page |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def record(text: str, name: str, doc: Path) -> None:
    """Put a replication's reading (`text`, headed `# {name}: ...`) into `doc` as its section
    `## {name}: ...`, replacing an earlier reading of the same preset, keeping the others, and
    rewrite the summary table the file opens with."""
    doc = Path(doc)
    intro = (
        "# Re-runs with seeds the pages never used\n\nEach section is written by `python "
        "scripts/replicate.py NAME ... --record docs/replication.md` and read with the statistics "
        "of the commit that wrote it; the re-runs' per-run files are not published (the same "
        "command makes them again).\n"
    )
    sections = {}
    if doc.exists():
        intro, *rest = doc.read_text().split("\n## ")
        sections = {part.split(":", 1)[0]: part.strip() for part in rest}
        intro = intro.split(SUMMARY)[0].rstrip() + "\n"
    sections[name] = text.strip().removeprefix("# ")
    doc.write_text(
        intro
        + "\n"
        + summary(sections)
        + "".join(f"\n## {sections[k]}\n" for k in sorted(sections))
    )


def shown(path: Path) -> str:
    """`path` from its checkout's root (docs/..., logs/...) where it has one, else as given."""
    parts = Path(path).parts
    for top in ("docs", "logs"):
        if top in parts:
            return "/".join(parts[parts.index(top) :])
    return str(path)
