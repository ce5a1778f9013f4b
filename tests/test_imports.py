"""The import graph of src/biaslab: no cycle between modules, and no import from a lower layer
back up. Every `import`/`from ... import` counts, at module level or inside a function (a
function-local import is a dependency too, only a later one), relative or absolute; the
implicit import of a module's parent package (`biaslab/run/__init__.py`) does not.

The layers, lowest first; a module may import its own layer and those below it:
- errors: the lab's exception types;
- schema: the typed config declarations;
- utils: generic helpers (rank, console, config printing, W&B's client glue, resolvers);
- models, data, losses, optim: the parts;
- callbacks, probes: what hooks into a Trainer (probes read data);
- module: the LightningModule that joins the parts;
- run: one run, CLI to metrics.json;
- analysis, study, presets, tuning: over many runs. analysis and study are one layer today:
  study's verdicts and charts use analysis's metrics and plots, and analysis's report and page
  render study's sections (issue 46 split them by responsibility, not by layer); presets and
  tuning are study's compatibility names.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from tests.conftest import ROOT

SRC = ROOT / "src"
LAYERS = (
    {"errors"},
    {"schema"},
    {"utils"},
    {"models", "data", "losses", "optim"},
    {"callbacks", "probes"},
    {"module"},
    {"run"},
    {"analysis", "study", "presets", "tuning"},
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((SRC / "biaslab").rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The biaslab modules `name` (at `path`) imports: `from a.b import c` is a.b.c when that
    is a module, else a.b."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {m for m in found if m == "biaslab" or m.startswith("biaslab.")}


GRAPH = {name: imported(name, path) - {name} for name, path in MODULES.items()}


def layer(name: str) -> int:
    """The index in LAYERS of a module's top-level part (`biaslab.run.files` -> run's)."""
    parts = name.split(".")
    part = parts[1] if len(parts) > 1 else "biaslab"
    if part == "biaslab":
        return len(LAYERS)  # the package itself sits above everything it re-exports
    found = [i for i, names in enumerate(LAYERS) if part in names]
    assert found, f"biaslab.{part} is in no layer: add it to LAYERS in tests/test_imports.py"
    return found[0]


def test_the_graph_is_read():
    """The scan finds what it must (a broken scan would pass every check below vacuously)."""
    assert len(MODULES) > 50
    assert "biaslab.run.files" in GRAPH["biaslab.run.train"] | GRAPH["biaslab.run.housekeeping"]
    assert "biaslab.errors" in GRAPH["biaslab.run.build"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_from_a_lower_layer_back_up(name):
    upward = sorted(t for t in GRAPH[name] if layer(t) > layer(name))
    assert not upward, f"{name} (layer {layer(name)}) imports a higher layer: {upward}"


def test_no_import_cycle_between_modules():
    """A topological order of the module graph exists (graphlib names a cycle when it does not)."""
    try:
        order = list(TopologicalSorter(GRAPH).static_order())
    except CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")
    assert set(GRAPH) <= set(order)


def test_a_cycle_would_be_found():
    with pytest.raises(CycleError):
        list(TopologicalSorter({**GRAPH, "biaslab.errors": {"biaslab.run.build"}}).static_order())
