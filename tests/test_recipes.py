"""docs/architecture.md's recipes, run from their own text: every kind of part (pooling, PE,
backbone, data set, sequence task, optimizer or scheduler, probe) is added to a temporary copy of
the repository as the blocks marked `file=<path>` and nothing else, then trained by the recipe's
`try` command run on the copy's code. So a part is new files only, and the recipes stay true."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST, ROOT

DOC = ROOT / "docs" / "architecture.md"
KINDS = (  # the kinds of part issue 48 names; the parts themselves come from the recipes
    "pooling",
    "positional encoding",
    "backbone",
    "data set",
    "sequence task",
    "optimizer or a scheduler",
    "probe",
)
BLOCK = re.compile(r"^```(\w+) (file=(?P<path>\S+)|try)\n(?P<body>.*?)^```$", re.M | re.S)
COPIED = ("src", "conf", "scripts", "tests", "docs", "pyproject.toml")
SLOW_KINDS = ("positional encoding", "backbone", "data set", "sequence task", "probe")


def recipes() -> dict[str, tuple[dict[str, str], list[str]]]:
    """{kind: ({path: file text}, the try command's overrides)} from the `## Add a <kind>`
    sections of docs/architecture.md."""
    found = {}
    for section in re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]:
        title, _, text = section.partition("\n")
        kind = re.sub(r"^Add an? ", "", title.strip())
        if kind == title.strip():
            continue
        files = {m["path"]: m["body"] for m in BLOCK.finditer(text) if m["path"]}
        tries = [m["body"].split() for m in BLOCK.finditer(text) if not m["path"]]
        found[kind] = (files, tries[0][2:] if tries else [])
    return found


def test_every_kind_has_a_recipe_of_new_files_and_a_command():
    """Each kind: a class file under src/ and its YAML under conf/, none of which exists in the
    repository (new files only), and one `python src/train.py ...` command."""
    found = recipes()
    for kind in KINDS:
        assert kind in found, f"docs/architecture.md has no '## Add a {kind}' recipe"
        files, overrides = found[kind]
        assert any(p.startswith("src/biaslab/") and p.endswith(".py") for p in files), kind
        assert any(p.startswith("conf/") and p.endswith(".yaml") for p in files), kind
        assert not [p for p in files if (ROOT / p).exists()], f"{kind}: not new files"
        assert overrides and all("=" in o for o in overrides), kind


@pytest.fixture(scope="module")
def lab_copy(tmp_path_factory) -> Path:
    """The repository's code, configs and docs (no .venv, logs or docs/results) in a temporary
    folder, with every recipe's files written in, as a user would add them."""
    copy = tmp_path_factory.mktemp("lab")
    skip = shutil.ignore_patterns("__pycache__", "results", ".pytest_cache")
    for name in COPIED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, copy / name, ignore=skip)
        else:
            shutil.copy(ROOT / name, copy / name)
    for files, _ in recipes().values():
        for path, text in files.items():
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            (copy / path).write_text(text)
    return copy


def run_in(copy: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """A command of the copy, on the copy's code first (PYTHONPATH) with this venv's python."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy / "src"), str(copy)])}
    return subprocess.run(
        [sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=timeout
    )


def train_recipes(copy: Path, kinds: tuple[str, ...], run: Path) -> dict:
    """One training run on the copy with the try commands of `kinds` merged: its metrics and
    its resolved config."""
    from biaslab.run.files import RunDir

    overrides = [o for kind in kinds for o in recipes()[kind][1]]
    done = run_in(copy, "src/train.py", *overrides, *FAST, f"hydra.run.dir={run}")
    assert done.returncode == 0, done.stderr[-3000:]
    files = RunDir(run)
    metrics = yaml.safe_load(files.metrics.read_text())
    assert math.isfinite(metrics["train/loss"]) and 0.0 <= metrics["test/acc"] <= 1.0
    return {"metrics": metrics, "config": yaml.safe_load(files.config.read_text())}


def targets_of(kind: str) -> set[str]:
    """The `_target_` values the recipe's YAML files name."""
    text = "\n".join(t for p, t in recipes()[kind][0].items() if p.endswith(".yaml"))
    return set(re.findall(r"_target_: (\S+)", text))


def named(config: dict) -> set[str]:
    """Every `_target_` in a resolved config."""
    from biaslab.schema import walk_targets

    return {t for _, t in walk_targets(config) if isinstance(t, str)}


def test_a_new_pooling_and_optimizer_train_from_their_recipes(lab_copy, tmp_path):
    """The fast subset: the pooling's and the optimizer/scheduler's files alone make a run that
    uses them (one command with both recipes' options); the recipe files are ruff clean."""
    kinds = ("pooling", "optimizer or a scheduler")
    run = train_recipes(lab_copy, kinds, tmp_path / "run")
    for kind in kinds:
        assert targets_of(kind) <= named(run["config"]), kind
    written = [p for kind in KINDS for p in recipes()[kind][0] if p.endswith(".py")]
    ruff = Path(sys.executable).with_name("ruff")
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run([ruff, *args, *written], cwd=lab_copy, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", SLOW_KINDS)
def test_each_new_part_trains_from_its_recipe(kind, lab_copy, tmp_path):
    """Each other kind: its recipe's try command trains on the copy and the run's config names
    the new part (a sequence task: the data's task; a probe: its CSV is written)."""
    from biaslab.run.files import RunDir

    run = train_recipes(lab_copy, (kind,), tmp_path / "run")
    assert targets_of(kind) <= named(run["config"]), kind
    text = "\n".join(recipes()[kind][0].values())
    if kind == "sequence task":
        assert f'@task("{run["config"]["data"]["task"]}"' in text
    if kind == "probe":
        assert list((RunDir(tmp_path / "run") / "probes").glob("*.csv")), "no probe output"


@pytest.mark.slow
def test_the_option_reference_regenerates_with_the_new_parts(lab_copy):
    """`scripts/options.py --write` on the copy names every new option (its file is its row)."""
    page = lab_copy / "docs" / "options.md"
    if not page.exists():
        pytest.skip("docs/options.md is not in this checkout yet")
    done = run_in(lab_copy, "scripts/options.py", "--write")
    assert done.returncode == 0, done.stderr[-3000:]
    text = page.read_text()
    for files, _ in recipes().values():
        for path in files:
            if path.startswith("conf/"):
                assert f"`{Path(path).stem}`" in text, path


@pytest.mark.slow
def test_a_backbone_that_names_a_layer_embed_is_refused_in_one_sentence(lab_copy, tmp_path):
    """Issue 48's ConvMixer: the recipe's backbone with its patch layer stored as `self.embed`
    (which the contract's `embed` method shadows) stops at build, exit 2, naming `embed`."""
    files, overrides = recipes()["backbone"]
    path = next(p for p in files if p.endswith(".py"))
    assert "self.patch_embed" in files[path]
    (lab_copy / path).write_text(files[path].replace("self.patch_embed", "self.embed"))
    try:
        run = tmp_path / "run"
        done = run_in(lab_copy, "src/train.py", *overrides, *FAST, f"hydra.run.dir={run}")
    finally:
        (lab_copy / path).write_text(files[path])
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr
    assert "sets self.embed, but embed is a method of the Backbone contract" in errors[0]
    assert not (run / "checkpoints").exists()
