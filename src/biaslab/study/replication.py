"""A replication read against the page: does a re-run of a preset with seeds the page never
used give the same verdict words, except where the page says the comparison is underpowered?
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
    """The page's verdict words, seeds and tuning picks, with the re-run's seeds checked
    against the page's: (words, seeds used, seeds for the re-run, picks)."""
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
        before = words_of(runs, Path(page) / "report" / "report.csv", claim)
        tuning = runs / "tuning.json"
        picks = json.loads(tuning.read_text()) if tuning.exists() else {}
    return before, used, seeds, picks


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
    before, used, seeds, picks = _read_page(name, page, claim, seeds)
    if reread and not (Path(out) / "final" / "preset.json").exists():
        raise ConfigError(
            f"--reread reads a finished re-run and {out} holds none; run the same command "
            "without --reread first."
        )
    again = [*extra, *reseeded(preset, seeds)]
    final = Path(out) / "final" if reread else run_preset(name, again, out=out)
    rows, broken = read_against(before, words_of(final, final / "report" / "report.csv", claim))
    repicks = json.loads((final / "tuning.json").read_text()) if picks else {}
    text = _reading(name, page, used, final, rows, broken, picks, repicks)
    (Path(out) / "replication.md").write_text(text + "\n")
    return text, broken


def _reading(name, page, used, final, rows, broken, picks, repicks) -> str:
    """The reading's markdown: where page and re-run came from, the tuning picks, one row per
    comparison, the closing count."""
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
