"""One command per lecture preset: `python scripts/run_preset.py NAME [--publish]`.

A preset with `exclusive: true` (its metric is a measured time) runs its jobs one at a time,
whatever launcher the command line asks for.

1. If the preset has a `tune:` node, a tuning sweep (every arm x the grid, `tune.seeds`, no
   test) picks each arm's value on the validation set (`tune.metric`). `tune.over` (swept keys)
   tunes per value of those keys only, with the other swept keys held at `tune.at` during
   tuning (e.g. one LR per model family, chosen at one data size, for every size);
2. the preset's seeds then run, each arm at its chosen value, with test;
3. `preset.json` (command, date, machine, commit, wall time) and `tuning.json` are written and
   the report is built; `--publish` copies the small per-run files to docs/results/NAME and
   rebuilds the report there, from the copy alone.

Every stage writes into a fixed sweep dir (logs/presets/NAME/...), so the same command after a
stop skips finished jobs and resumes the cut one.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from biaslab.run.files import PUBLISHED

ROOT = Path(__file__).resolve().parents[2]
QUIET = [
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def preset_config(name: str, extra: list[str], root: Path = ROOT):
    """The composed config of preset `name` (with Hydra's own node), from `root`/conf."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import biaslab.utils.resolvers  # noqa: F401

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(root / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"experiment={name}", *extra], return_hydra_config=True)


def train(*args: str) -> None:
    """One multirun of src/train.py; a failed job fails the stage (its summary says which)."""
    cmd = [sys.executable, str(ROOT / "src" / "train.py"), "-m", *args]
    subprocess.run(cmd, cwd=ROOT, check=True)


def _arm_slug(arm: dict[str, str]) -> str:
    """A folder name for an arm: optimizer=adam,seed=1 -> optimizer-adam_seed-1."""
    return "_".join(f"{k}-{v}" for k, v in arm.items()).replace("/", "-") or "all"


def pick(scores: dict[str, float], tie: float) -> tuple[str, list[str]]:
    """The tie rule: of the grid values whose mean score is within `tie` of the best (noise
    cannot order them), the middle one in grid order (the lower middle of an even count), so that
    a re-run's noise moves the pick less than taking the maximum would. Returns (pick, tied)."""
    best = max(scores.values())
    tied = [v for v, score in scores.items() if score >= best - tie]
    return tied[(len(tied) - 1) // 2], tied


def beyond_edge(values: list[str], chosen: str) -> str | None:
    """The next grid value past an edge pick of a numeric grid of 3 or more values, continuing
    its pattern (1e-3, 3e-3, 1e-2, 3e-2 -> 0.1); None when the pick is inside the grid."""
    try:
        grid = sorted(float(v) for v in values)
    except ValueError:
        return None
    if len(grid) < 3 or float(chosen) not in (grid[0], grid[-1]) or min(grid) <= 0:
        return None
    step = grid[-1] / grid[-3] if float(chosen) == grid[-1] else grid[0] / grid[2]
    edge = grid[-2] if float(chosen) == grid[-1] else grid[1]
    return f"{edge * step:.3g}"


def tune(name: str, out: Path, params: dict[str, str], spec, extra: list[str]) -> dict[str, Any]:
    """Stage 1: {arm slug: {"arm": {...}, "chosen": {key: value}, "scores": {...}}}.

    Each arm's value is picked by the tie rule (`tune.tie`, default 0.002 of the metric) from the
    mean over `tune.seeds`, the highest unless `tune.goal: min`; a pick at the edge of a one-key numeric grid widens that arm's grid by
    one value past the edge and tunes it, up to `tune.widen` times (default 2)."""
    import pandas as pd

    from biaslab.analysis.load import load_sweep

    over = list(spec.get("over") or [k for k in params if k != "seed"])
    arms = {k: params[k] for k in over}
    held = {k: "null" if v is None else str(v) for k, v in (spec.get("at") or {}).items()}
    if set(held) != set(params) - {"seed", *over}:
        raise ValueError(
            f"tune.at must give one value for each swept key outside tune.over "
            f"{sorted(set(params) - {'seed', *over})}; it has {sorted(held)}"
        )
    grid = {k: ",".join(str(v) for v in values) for k, values in spec.grid.items()}
    seeds = ",".join(str(s) for s in spec.get("seeds", [0]))
    common = [f"hydra.sweeper.params.seed='{seeds}'", "test=false", *QUIET, *extra]
    train(
        f"experiment={name}",
        f"hydra.sweep.dir={out / 'tune'}",
        *common,
        *[f"{k}={v}" for k, v in {**grid, **held}.items()],
    )
    metric = spec.get("metric", "val/acc_best")
    tie = float(spec.get("tie", 0.002))
    frames = [load_sweep(out / "tune")]
    chosen: dict[str, Any] = {}
    rounds = int(spec.get("widen", 2))
    for done in range(rounds + 1):
        frame = pd.concat(frames, ignore_index=True)
        ok = frame[frame["status"] == "ok"].astype({k: str for k in grid})
        widen = []
        for values, group in ok.groupby(list(arms), dropna=False) if arms else [((), ok)]:
            values = values if isinstance(values, tuple) else (values,)
            arm = dict(zip(arms, map(str, values)))
            scores = group.groupby(list(grid))[metric].mean()
            scores.index = [
                ",".join(map(str, k if isinstance(k, tuple) else (k,))) for k in scores.index
            ]
            scores = scores.sort_index(key=lambda i: [_grid_order(v) for v in i])
            sign = -1.0 if spec.get("goal", "max") == "min" else 1.0
            best, tied = pick({k: sign * v for k, v in scores.items()}, tie)
            chosen[_arm_slug(arm)] = {
                "arm": arm,
                "chosen": dict(zip(grid, best.split(","))),
                "metric": metric,
                "tie": tie,
                "tied": tied,
                "scores": {k: float(v) for k, v in scores.items()},
            }
            nxt = beyond_edge(list(scores.index), best) if len(grid) == 1 else None
            if nxt is not None:
                widen.append((arm, nxt))
        if not widen or done == rounds:
            break
        for arm, nxt in widen:
            (key,) = grid
            folder = out / "tune_widen" / f"{_arm_slug(arm)}_{key}-{nxt}"
            train(
                f"experiment={name}",
                f"hydra.sweep.dir={folder}",
                *common,
                *[f"{k}=choice({v})" for k, v in arm.items()],
                *[f"{k}={v}" for k, v in held.items()],
                f"{key}={nxt}",
            )
            widened = load_sweep(folder)
            widened[key] = nxt  # a plain override there, not a swept column
            frames.append(widened)
    return chosen


def _grid_order(value: str) -> tuple:
    """Numeric grid values in numeric order, others as text."""
    try:
        return (0, *(float(v) for v in value.split(",")))
    except ValueError:
        return (1, value)


def run_preset(
    name: str, extra: list[str] = (), out: Path | None = None, publish: bool = False
) -> Path:
    """Run (or resume) one preset; return the dir its report is built from."""
    from omegaconf import OmegaConf

    from biaslab.analysis.report import write_report
    from biaslab.errors import ConfigError
    from biaslab.run.provenance import commit_of, is_dirty

    extra = list(extra)
    cfg = preset_config(name, extra)
    if cfg.get("exclusive"):  # measured times: no other job may share the CPU
        parallel = [e for e in extra if e.startswith(("hydra/launcher=", "hydra.launcher."))]
        if parallel:
            print(
                f"{name} measures time: its jobs run one at a time ({' '.join(parallel)} ignored)"
            )
        extra = [e for e in extra if e not in parallel]
        cfg = preset_config(name, extra)
    out = Path(out or preset_dir(name))
    if publish and is_dirty(ROOT):
        raise ConfigError(
            f"--publish runs only from a clean tree and {ROOT} has uncommitted changes; commit "
            "them first (published numbers name their commit)."
        )
    claim = OmegaConf.to_container(cfg.claim, resolve=True) if cfg.get("claim") else None
    check_declaration(name, out, claim)
    if "wandb" in (cfg.get("logger") or {}) and not any(
        e.startswith("logger.wandb.group=") for e in extra
    ):  # the user's own logger; its runs grouped by preset and declaration (a resume rejoins)
        extra.append(f"logger.wandb.group={name}-{declaration_hash(claim) or 'undeclared'}")
    params = {k: str(v) for k, v in (OmegaConf.select(cfg, "hydra.sweeper.params") or {}).items()}
    start = time.time()
    stop = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so `finally` runs on SIGTERM too
    try:
        final = _run_stages(name, out, params, cfg.get("tune"), extra)
    finally:
        signal.signal(signal.SIGTERM, stop)
        # a stopped or failed session's time counts too (wall.json adds up over sessions)
        wall_file = out / "wall.json"
        spent = json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else 0.0
        out.mkdir(parents=True, exist_ok=True)
        wall_file.write_text(json.dumps({"wall_s": spent + time.time() - start}) + "\n")
    info = {
        "command": " ".join(["python scripts/run_preset.py", name, *extra]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "commit": (commit_of(ROOT) or "")[:7],
        "wall_s": json.loads(wall_file.read_text())["wall_s"],
        "declaration": declaration_hash(claim),
    }
    (final / "preset.json").write_text(json.dumps(info, indent=1) + "\n")
    write_report(final)
    if publish:
        final = publish_files(final, ROOT / "docs" / "results" / name)
        write_report(final)
    return final


def preset_dir(name: str) -> Path:
    """Where a preset's runs go: logs/presets/NAME under $BIASLAB_ROOT, else the repository."""
    return Path(os.environ.get("BIASLAB_ROOT") or ROOT) / "logs" / "presets" / name


def declaration_hash(claim: Any) -> str | None:
    """A short hash of a preset's declaration (`claim:`), recorded with its runs."""
    import hashlib

    if claim is None:
        return None
    return hashlib.sha256(json.dumps(claim, sort_keys=True).encode()).hexdigest()[:12]


def check_declaration(name: str, out: Path, claim: Any) -> None:
    """Refuse to add runs under a changed declaration to runs made under another one (each
    run's config holds the `claim:` it was made under): the preset is re-run whole."""
    from biaslab.errors import ConfigError
    from biaslab.run.files import find_runs

    for run in find_runs(out)[:1] if out.exists() else []:
        before = run.read_config().get("claim")
        if before != claim:
            raise ConfigError(
                f"{out} holds runs of {name} made under another declaration (claim "
                f"{declaration_hash(before)}, now {declaration_hash(claim)}); re-run the preset "
                "whole: pass --fresh (it removes those runs) or another out dir."
            )


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM (a scheduler, `timeout`) ends the preset like Ctrl+C: cleanup runs, exit 143."""
    raise SystemExit(128 + signum)


def machine() -> str:
    """This machine in words, with the GPU's name where one is visible."""
    import torch

    words = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    return words + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")


def _run_stages(name: str, out: Path, params: dict[str, str], spec, extra: list[str]) -> Path:
    """Tuning (if any) and the seeds; returns the dir the report is built from."""
    if spec:
        chosen = tune(name, out, params, spec, extra)
        final = out / "final"
        for slug, entry in chosen.items():
            fixed = [f"{k}=choice({v})" for k, v in entry["arm"].items()]  # wins over the params
            train(
                f"experiment={name}",
                f"hydra.sweep.dir={final / slug}",
                *QUIET,
                *extra,
                *fixed,
                *[f"{k}={v}" for k, v in entry["chosen"].items()],
            )
        (final / "tuning.json").write_text(json.dumps(chosen, indent=1) + "\n")
    else:
        final = out / "final"
        train(f"experiment={name}", f"hydra.sweep.dir={final}", *QUIET, *extra)
    return final


def publish_files(src: Path, dst: Path) -> Path:
    """Copy the small per-run files (no checkpoints) and the sweep's own files to `dst`."""
    kept = {}  # the author's prose beside the results is not the runs' to replace
    if dst.exists():
        kept = {p.name: p.read_text() for p in dst.glob("discussion.md")}
        shutil.rmtree(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name, text in kept.items():
        (dst / name).write_text(text)
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        keep = path.is_file() and (
            any(str(rel).endswith(p) for p in PUBLISHED)
            or path.name in ("multirun.yaml", "preset.json", "tuning.json", "summary.md")
        )
        if keep and not any(part.startswith("report") for part in rel.parts):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst / rel)
    return dst
