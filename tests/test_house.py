"""The house rules, checked on the source itself: the run package owns every run-directory file
name (one constant each), no module grows past one screen's worth of files, callbacks never
import the LightningModule, and formatting is left to the formatter."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from biaslab.run import files
from tests.conftest import ROOT

SOURCES = sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "scripts").rglob("*.py"))
RUN_PACKAGE = ROOT / "src" / "biaslab" / "run"
# every run-dir file name except the generic `.lock` suffix (Optuna's study lock is not a run's)
NAMES = {v for k, v in vars(files).items() if k.isupper() and isinstance(v, str) and v != ".lock"}


def _strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant in `path` that is not a docstring."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_run_dir_file_names_are_spelled_only_in_the_run_package():
    assert {"metrics.json", "pruned.txt", "wandb_id.txt", "history.csv"} <= NAMES
    offenders = []
    for path in SOURCES:
        if RUN_PACKAGE in path.parents:
            continue
        for line, text in _strings(path):
            if any(re.search(rf"(^|[/*]){re.escape(name)}$", text) for name in NAMES):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert not offenders, "use biaslab.run.files.RunDir instead:\n" + "\n".join(offenders)


def test_each_run_dir_file_has_one_constant():
    spelled: dict[str, int] = {}
    for path in sorted(RUN_PACKAGE.glob("*.py")):
        for _, text in _strings(path):
            if text in NAMES:
                spelled[text] = spelled.get(text, 0) + 1
    assert spelled and all(n == 1 for n in spelled.values()), spelled


def test_src_files_stay_short_and_formatted():
    long = [p for p in (ROOT / "src").rglob("*.py") if len(p.read_text().splitlines()) > 300]
    assert not long, long
    skips = sum(p.read_text().count("fmt: skip") for p in (ROOT / "src").rglob("*.py"))
    assert skips <= 20


def test_callbacks_never_import_the_lightning_module():
    for path in (ROOT / "src" / "biaslab" / "callbacks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "biaslab.module", path
            if isinstance(node, ast.Import):
                assert all(a.name != "biaslab.module" for a in node.names), path


def test_the_option_reference_is_generated_from_conf():
    """docs/options.md's tables (groups, parts, per-family options) equal what `conf/` and the
    parts' declarations generate now; the failure names the command that regenerates them."""
    from biaslab.utils.options import PAGE, REGENERATE, with_tables

    page = (ROOT / PAGE).read_text()
    assert with_tables(page, ROOT / "conf") == page, f"{PAGE} is stale: run {REGENERATE}"


def test_a_changed_or_undocumented_option_makes_the_tables_differ_or_fail(tmp_path):
    """A default changed in `conf/` changes the tables; an option with no comment saying what it
    touches stops the generation with a sentence naming it."""
    import shutil

    import pytest

    from biaslab.utils.options import UndocumentedOption, tables

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    vit = conf / "model" / "vit.yaml"
    vit.write_text(vit.read_text().replace("depth: 4 ", "depth: 6 "))
    assert "| `model.backbone.depth` | `6` |" in tables(conf)
    assert tables(conf) != tables(ROOT / "conf")
    body = (conf / "pe" / "rope.yaml").read_text().split("\n", 1)[1]  # without its comment
    (conf / "pe" / "rope_copy.yaml").write_text("# a new PE's file is its row\n" + body)
    assert "| `rope_copy` | a new PE's file is its row |" in tables(conf)
    vit.write_text(vit.read_text() + "  qk_norm: false\n")
    with pytest.raises(UndocumentedOption, match=r"backbone\.qk_norm"):
        tables(conf)
