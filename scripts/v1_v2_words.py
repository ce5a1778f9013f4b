"""The v1 → v2 word table of docs/protocol.md: python scripts/v1_v2_words.py [V1_REV]

Per comparison on the results page, the word the v1 page gave (read from docs/results.md at
V1_REV, a commit before the pages were rebuilt under v2; default below) beside the word the
committed v2 report gives (docs/results/<preset>/report/report.csv), and why it changed, from
the v2 values (where the deciding interval lies against 0 and ±δ, the seeds, the count). Prints
markdown; nothing is written.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
V1_REV = "7a4ad13"  # the last commit whose pages were written under protocol 1


def git_show(rev: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def v1_words(page: str, primaries: dict[str, tuple[str, str]]) -> dict[tuple, str]:
    """(preset, metric, baseline, arm) -> the v1 page's word, from its verdict lines (a line at
    the top level is the primary comparison: `primaries[preset]` = (metric, baseline))."""
    words, preset, group = {}, None, ("", "")
    for line in page.splitlines():
        head = re.match(r"## .* — `([^`]+)`", line)
        if head:
            preset = head[1]
            continue
        on = re.match(r"- on `([^`]+)`.* against `([^`]+)`", line)
        if on:
            group = (on[1], on[2])
            continue
        found = re.match(r"(\s*)- ([^:]+): \*\*([^*]+)\*\*", line)
        if found and preset in primaries:
            metric, base = group if found[1] else primaries[preset]
            words[(preset, metric, base, found[2].strip())] = found[3]
    return words


def why(v1: str, row) -> str:
    """Why the v2 word differs from the v1 word (or that it does not), from the v2 values."""
    v2, n = row["word"], int(row["seeds"])
    if v2 == "too few seeds":
        return f"{n} seeds: no sign-flip test can reach α/m for this family"
    if row["kind"] == "count":
        return "tested as a count (Barnard's exact test), not a t-test of a mean"
    same = v1.split()[0] == v2.split()[0] if v1 and v2 else False
    if v1.startswith(("better", "worse")) and same:
        return "the same side; v2 says where the interval lies against ±δ"
    if v1.startswith("equivalent") and v2.startswith("equivalent"):
        return "the same"
    if v1.startswith("equivalent"):
        return (
            "v1's TOST (90 % over seeds) put it inside ±δ; the v2 interval (seeds and test "
            "examples, at its Holm level) " + ("excludes 0" if "within" in v2 else "reaches ±δ")
        )
    if v1 == "inconclusive":
        return "the v2 interval, at its Holm level over the section's one family, decides it"
    return "the v2 interval, over seeds and test examples at its Holm level, holds 0"


def rows(name: str, words: dict) -> list[str]:
    """The table's rows of one preset."""
    import pandas as pd

    csv = ROOT / "docs" / "results" / name / "report" / "report.csv"
    if not csv.exists() or not csv.read_text().strip():
        return []
    out = []
    for _, r in pd.read_csv(io.StringIO(csv.read_text())).iterrows():
        parts = str(r["baseline"]).split(",")  # the baseline cell holds the declared k=v
        arm = set(str(r["arm"]).split(","))  # a v1 arm left out the keys fixed by `at:`
        found = [
            w for (p, m, b, a), w in words.items()
            if (p, m) == (name, r["metric"]) and b in parts and set(a.split(",")) <= arm
        ]  # fmt: skip
        v1 = found[0] if found else "(exploratory)" if not r["declared"] else ""
        reason = why(v1, r) if v1 and v1 != "(exploratory)" else "no v1 word on the page"
        if not v1:
            reason = (
                "v1 tested this pair once, the other way round ('the same pair as above'); the "
                "v2 family (`Preset.pairs`) holds each direction a declared comparison makes"
            )
        v2 = r["word"] if r["declared"] else f"(exploratory) {r['word']}"
        out.append(
            f"| `{name}` | {r['metric']} | {r['arm']} vs {r['baseline']} | {v1} | {v2} | {reason} |"
        )
    return out


def main(argv: list[str]) -> str:
    import yaml

    rev = argv[0] if argv else V1_REV
    primaries = {}
    for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
        node = yaml.safe_load(path.read_text()) or {}
        report = node.get("report") or {}
        if node.get("claim") and not path.stem.endswith("_quick"):
            primaries[path.stem] = (report.get("primary") or "test/acc", report.get("baseline"))
    words = v1_words(git_show(rev, "docs/results.md"), primaries)
    lines = [
        "| preset | metric | comparison | v1 word | v2 word | why |",
        "|---|---|---|---|---|---|",
    ]
    for name in primaries:
        lines += rows(name, words)
    return "\n".join([*lines, "", reruns(list(primaries))])


def reruns(names: list[str]) -> str:
    """The sentence naming the sections whose v2 reading needs new runs (tuning seeds among
    the compared seeds: `Preset.tuning_seeds_reused`)."""
    from biaslab.study.spec import Preset

    folder = ROOT / "conf" / "experiment"
    reused = [n for n in names if Preset.from_yaml(folder / f"{n}.yaml").tuning_seeds_reused]
    return (
        "**Sections whose v2 reading needs new runs** (their tuning seeds are among their "
        "compared seeds; each report and page section says so; the re-runs belong to the "
        "re-run issue that follows): " + ", ".join(f"`{n}`" for n in reused) + "."
    )


if __name__ == "__main__":
    print(main(sys.argv[1:]))
