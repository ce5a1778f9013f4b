"""What a section's verdicts are computed from, read from a sweep's own files: the table of runs
(`load.load_sweep` and `derived.add_derived`), each run's per-example test correctness (its
predictions.npz), and the typed declaration the runs were made under, rebuilt from their
configs (`claim:`, `report:`, `tune:`, `arms:`, `protocol:`) and the sweep's own arms (its
multirun.yaml's declared order, else the runs' values in level order). The I/O half of
`biaslab.study.verdicts.decide_section`, which is pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biaslab.analysis.derived import add_derived
from biaslab.analysis.figure import level_key
from biaslab.analysis.load import factors, load_sweep
from biaslab.errors import ConfigError
from biaslab.run.files import RunDir, find_runs

ARM = "arm"  # the factor named bundles of overrides make (`biaslab.study.spec`)


@dataclass(frozen=True)
class Declared:
    """The declaration the runs carry: `node` (a preset YAML's shape, for `Preset.from_dict`),
    whether every run carries the same `claim:` (`claimed`), and the protocol they were made
    under (`made_under`: preset.json's or their config's `protocol`, else 1)."""

    node: dict[str, Any]
    claimed: bool
    made_under: int


def read_correct(frame) -> dict[str, np.ndarray]:
    """run_dir -> (n_test,) booleans: each finished run's test predictions equal to the targets
    (saved at the best-validation weights, as `test/acc`); runs without the file are left out."""
    out = {}
    for run_dir in frame.get("run_dir", []):
        path = RunDir(run_dir).predictions
        if path.exists():
            with np.load(path, allow_pickle=False) as saved:
                out[str(run_dir)] = saved["pred"] == saved["target"]
    return out


def _multirun(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's multirun.yaml (a tuned preset's: its first arm's), or {}."""
    import yaml

    found = sorted(Path(sweep_dir).glob("multirun.yaml")) or sorted(
        Path(sweep_dir).glob("*/multirun.yaml")
    )
    return (yaml.safe_load(found[0].read_text()) or {}) if found else {}


def _declared_order(key: str, multirun: dict[str, Any]) -> list[str]:
    """A factor's values in the order the sweep declared them (its sweeper params, or a
    comma list on its command line), [] where it declared none this module reads."""
    from biaslab.study.spec import sweep_values

    hydra = multirun.get("hydra") or {}
    params = (hydra.get("sweeper") or {}).get("params") or {}
    texts = [params[key]] if key in params else []
    texts += [
        o.split("=", 1)[1]
        for o in (hydra.get("overrides") or {}).get("task") or []
        if o.split("=", 1)[0].lstrip("+~") == key and "=" in o
    ]
    for text in texts:
        try:
            return list(sweep_values(key, text))
        except ConfigError:
            continue
    return []


def swept(frame, multirun: dict[str, Any]) -> dict[str, list[str]]:
    """The arms' factors with their values as run (declared order first, then any other value
    the runs hold, in level order) and the seeds: `hydra.sweeper.params` of a `Preset`."""
    out = {}
    for key in factors(frame):
        seen = [str(v) for v in frame[key].dropna().unique()]
        order = [v for v in _declared_order(key, multirun) if v in seen]
        out[key] = order + sorted(set(seen) - set(order), key=level_key)
    seeds = sorted({str(s) for s in frame["seed"].dropna()}, key=lambda s: level_key(s))
    return {**out, "seed": seeds}


def set_elsewhere(node: dict[str, Any]) -> set[str]:
    """Keys a run sets that are not arms' factors of their own: the bundles' tag (`arm`, the
    bundles make that factor) and the keys they set, and the tuned keys (`tune.grid`)."""
    bundles = node.get("arms") or {}
    keys = {o.split("=", 1)[0].lstrip("+~") for v in bundles.values() for o in v or []}
    keys |= {ARM} if bundles else set()
    return keys | set(((node.get("tune") or {}).get("grid") or {}).keys())


def declared(runs: Path, frame) -> Declared:
    """The declaration the runs carry (their first config's nodes; `claimed` when every run
    holds the same non-null `claim:`) with the sweep's arms as run."""
    configs = [r.read_config() for r in find_runs(runs)]
    claims = {json.dumps(c.get("claim"), sort_keys=True) for c in configs}
    first = configs[0] if configs else {}
    info = Path(runs) / "preset.json"
    made = json.loads(info.read_text()).get("protocol") if info.exists() else None
    node = {k: first.get(k) for k in ("claim", "report", "tune", "arms") if first.get(k)}
    node["protocol"] = int(first.get("protocol") or 1)
    params = swept(frame, _multirun(runs))
    for key in set_elsewhere(node):
        params.pop(key, None)
    node["hydra"] = {"sweeper": {"params": params}}
    claimed = len(claims) == 1 and json.loads(claims.pop()) is not None
    return Declared(node, claimed, int(made or node["protocol"]))


def read_runs(runs: Path):
    """(frame, Declared, correct) of the runs under `runs` (a sweep dir, a tuned preset's dir of
    sweeps, or an unpacked published preset)."""
    frame = load_sweep(runs)
    decl = declared(Path(runs), frame)
    add_derived(frame, decl.node.get("report") or {})
    return frame, decl, read_correct(frame)
