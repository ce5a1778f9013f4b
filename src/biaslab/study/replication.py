"""A replication read against the page: does a re-run of a preset with seeds the page never
used give the same verdict words, for every comparison of its family not declared underpowered
in advance (protocol v2's flag: fewer seeds than the seed rule asked for before the run)?
Both sides are read as v2 Sections (`biaslab.analysis.replication.words_of`); a recorded
reading names the protocol it was read under, and one naming none is a v1 record.
(`scripts/replicate.py` runs one and prints this.) The re-run goes through
`biaslab.study.runner`; its seeds' overrides are written by `biaslab.study.plan.reseeded`."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from biaslab.analysis.pack import unpacked
from biaslab.analysis.replication import runs_claim, seeds_of, words_of
from biaslab.errors import ConfigError
from biaslab.study.compose import ROOT, preset_config, preset_of
from biaslab.study.plan import reseeded
from biaslab.study.runner import run_preset

CLOSING = (
    "{} of {} verdict words the same; {} differ where the page says the comparison is "
    "underpowered; {} differ where it does not."
)
COUNTS = re.compile(re.escape(CLOSING).replace(r"\{\}", r"(\d+)"))  # reads CLOSING back


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


def _read_page(name: str, page: Path, claim: Any, seeds: range | None):
    """The page's verdict words, seeds, tuning picks and Section, with the re-run's seeds
    checked against the page's: (words, seeds used, seeds for the re-run, picks, Section)."""
    with unpacked(page) as runs:
        made_under, used = runs_claim(runs), seeds_of(runs)
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
        before, section = words_of(runs, name)
        tuning = runs / "tuning.json"
        picks = json.loads(tuning.read_text()) if tuning.exists() else {}
    return before, used, seeds, picks, section


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
    as much), then read its verdict words against the page's: the markdown of that reading
    (also written to out/replication.md) and the count of words that changed where the page
    did not call the comparison underpowered. `reread`: run nothing, read the re-run already
    in `out` with this code's statistics."""
    from omegaconf import OmegaConf

    cfg = preset_config(name, list(extra))
    preset = preset_of(name, cfg)
    claim = OmegaConf.to_container(cfg.claim, resolve=True) if cfg.get("claim") else None
    before, used, seeds, picks, section = _read_page(name, page, claim, seeds)
    if reread and not (Path(out) / "final" / "preset.json").exists():
        raise ConfigError(
            f"--reread reads a finished re-run and {out} holds none; run the same command "
            "without --reread first."
        )
    again = [*extra, *reseeded(preset, seeds)]
    final = Path(out) / "final" if reread else run_preset(name, again, out=out)
    after, resection = words_of(final, name)
    rows, broken = read_against(before, after)
    repicks = json.loads((final / "tuning.json").read_text()) if picks else {}
    read = protocols(section, resection)
    text = _reading(name, page, used, final, rows, broken, picks, repicks, read)
    (Path(out) / "replication.md").write_text(text + "\n")
    return text, broken


def protocols(page, rerun) -> str:
    """Which protocol read both sides (READ_UNDER reads it back) and what each was made under."""
    return (
        f"both read under protocol v{page.protocol} (the page's runs made under protocol "
        f"{page.made_under}, the re-run's under {rerun.made_under})"
    )


def _reading(name, page, used, final, rows, broken, picks, repicks, read) -> str:
    """The reading's markdown: where page and re-run came from and which protocol read them
    (`read`), the tuning picks, one row per comparison, the closing count."""
    from biaslab.run.provenance import commit_of, is_dirty

    made = json.loads((final / "preset.json").read_text())
    ran = seeds_of(final)  # --reread: the seeds as run, not --seeds
    same = sum(r.endswith("| same |") for r in rows)
    return "\n".join(
        [
            f"# {name}: a re-run with seeds the page never used",
            "",
            f"The page: {shown(page)} (seeds {used[0]}-{used[-1]}); the re-run: {shown(final)} "
            f"(seeds {ran[0]}-{ran[-1]}), made by `{made['command']}` at commit "
            f"{made['commit']}, {made['date']}, on {made['machine']}, "
            f"{made['wall_s'] / 60:.1f} min; {read}, with the statistics at commit "
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


SUMMARY = "\nRead together"
READ_UNDER = re.compile(r"read under protocol v(\d+)")
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


def protocol_of(section: str) -> int:
    """The protocol a recorded section was read under (its READ_UNDER phrase); a section that
    names none was written before protocol v2 existed: a v1 record."""
    found = READ_UNDER.search(section)
    return int(found.group(1)) if found else 1


def section_counts(section: str) -> list[int] | None:
    """(same, total, differ underpowered, differ not, picks kept, kept or tied, tuned arms) from
    a section's closing line and tuning lines; None without a closing line."""
    found = COUNTS.search(section)
    if not found:
        return None
    picks = PICKED.findall(section)
    return [int(x) for x in found.groups()] + [*picks_kept(picks), len(picks)]


def together(protocol: int, presets: int, totals: list[int]) -> str:
    """The sentence that reads one protocol's sections together (a v1 one says it is a record)."""
    same, total, excused, broken, kept, tied, tuned = totals
    old = (
        " These are v1 records: read from v1 report.csv columns before the pages were rebuilt "
        "under protocol v2, kept as they were; the v2 re-run of the lecture set (issue 47) will "
        "refill them."
    )
    return (
        f"{SUMMARY.lstrip()} under protocol v{protocol} (presets re-run: {presets}): {same} of "
        f"{total} verdict words the same, {excused} differ where the page says the comparison is "
        f"underpowered, {broken} where it does not; the re-runs' tuning picked the page's value "
        f"in {kept} of {tuned} arms, and one the page's tie rule could not tell from it in "
        f"{tied - kept} more.{old if protocol == 1 else ''}"
    )


def summary(sections: dict[str, str]) -> str:
    """One table over the recorded sections, counted from each section's own closing line
    (a section without one is left out) and its tuning lines, with the protocol each was read
    under, so the file opens with what a reader checks first: one sentence per protocol (v1
    and v2 words are never added together), then a row per preset."""
    rows, totals, presets = [], {}, {}
    for name in sorted(sections):
        counts = section_counts(sections[name])
        if counts is None:
            continue
        version = protocol_of(sections[name])
        totals[version] = [a + b for a, b in zip(totals.get(version, [0] * 7), counts)]
        presets[version] = presets.get(version, 0) + 1
        seeds = re.search(r"\(seeds (\d+-\d+)\), made by", sections[name])
        same, total, excused, broken, kept, tied, tuned = counts
        rows.append(
            f"| {name} | v{version} | {seeds.group(1) if seeds else '?'} | {same} of {total} | "
            f"{excused} | {broken} | {f'{kept} of {tuned}' if tuned else 'not tuned'} | "
            f"{f'{tied} of {tuned}' if tuned else ''} |"
        )
    lines = [together(v, presets[v], totals[v]) for v in sorted(totals, reverse=True)]
    lines = lines or [f"{SUMMARY.lstrip()}: no re-run is recorded yet."]
    return (
        "\n\n".join(lines)
        + "\n\n| preset | read under | the re-run's seeds | words the same | differ, underpowered "
        "| differ, not underpowered | tuning picks the same | the same or tied on the page |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def record(text: str, name: str, doc: Path) -> None:
    """Put a replication's reading (`text`, headed `# {name}: ...`) into `doc` as its section
    `## {name}: ...`, replacing an earlier reading of the same preset, keeping the others, and
    rewrite the summary table the file opens with."""
    doc = Path(doc)
    intro = (
        "# Re-runs with seeds the pages never used\n\nEach section is written by `python "
        "scripts/replicate.py NAME ... --record docs/replication.md` and read with the statistics "
        "of the commit that wrote it, under the protocol it names; the re-runs' per-run files are "
        "not published (the same command makes them again).\n"
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
