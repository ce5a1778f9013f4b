"""The README is a tour, not a reference: at most 200 lines, its sections in the order a new user
needs them, every page it (or a page under docs/) links to present, and CI running exactly the
README's test command."""

from __future__ import annotations

import re

from tests.conftest import ROOT

README = ROOT / "README.md"
TOUR = (
    "Two commands",
    "A first run",
    "A first sweep",
    "A first study",
    "W&B",
    "The cluster",
    "Where to read more",
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_a_tour_of_at_most_200_lines():
    text = README.read_text()
    assert len(text.splitlines()) <= 200, "move reference material to docs/ (docs/options.md...)"
    headings = re.findall(r"^## (.+)$", text, re.M)
    found = [next((h for h in headings if h.startswith(t)), None) for t in TOUR]
    assert None not in found, dict(zip(TOUR, found))
    assert [headings.index(h) for h in found] == sorted(headings.index(h) for h in found)


def test_every_page_the_readme_and_the_docs_link_to_exists():
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    missing = [
        f"{page.relative_to(ROOT)} -> {target}"
        for page in pages
        for target in LINK.findall(page.read_text())
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert not missing, missing


def test_ci_runs_exactly_the_readmes_test_command():
    block = README.read_text().split("## Two commands", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands[:2] == ['make train ARGS="model=cnn"', "make test"], commands
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    runs = [ln for ln in ci if ln and not ln.startswith("#") and ln.startswith("make ")]
    assert runs == ["make test"], runs
    assert (ROOT / "Makefile").read_text().count("\ntest: ") == 1
