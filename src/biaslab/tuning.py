"""Stage 1 of a preset: each arm's value picked on the validation set (`tune:`), by a stated tie
rule, with the grid widened past an edge pick (see `tune`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
QUIET = [
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def train(*args: str) -> None:
    """One multirun of src/train.py (`args` name its hydra.sweep.dir); a failed job fails the
    stage with one sentence: the bad input every job would meet, on which the sweep stopped at
    its first job (`biaslab.run.sweep.stop_if_every_job_would_fail`), or else how many jobs
    failed, the first one's error and where the summary lists them."""
    import os

    from biaslab.run.sweep import SAY_ENV, STOPPED, read_summary

    sweep = Path([a for a in args if a.startswith("hydra.sweep.dir=")][-1].split("=", 1)[1])
    (sweep / STOPPED).unlink(missing_ok=True)  # a sentence left by an earlier session
    cmd = [sys.executable, str(ROOT / "src" / "train.py"), "-m", *args]
    code = subprocess.run(cmd, cwd=ROOT, env={**os.environ, SAY_ENV: "0"}).returncode
    if code == 0:
        return
    if (sweep / STOPPED).exists():
        raise ConfigError((sweep / STOPPED).read_text().strip())
    if code == 2:  # refused before any job (the child said its one sentence)
        raise SystemExit(2)
    failed = [r for r in read_summary(sweep) if r["status"] == "failed"]
    first = f" (the first, job {failed[0]['job']}: {failed[0]['error']})" if failed else ""
    raise ConfigError(
        f"{len(failed) or 'a'} job(s) of the sweep in {sweep} failed{first}, exit {code}; see "
        f"{sweep / 'summary.md'} and fix the cause: the same command resumes, finished jobs kept."
    )


def _arm_slug(arm: dict[str, str]) -> str:
    """A folder name for an arm: optimizer=adam,seed=1 -> optimizer-adam_seed-1; checked as one
    plain folder name (it names folders in the preset's dir: never `..`, never too long)."""
    from biaslab.run.paths import plain_name

    slug = "_".join(f"{k}-{v}" for k, v in arm.items()).replace("/", "-") or "all"
    return plain_name(slug, "the arm folder", "shorten the swept values of this arm")


def pick(scores: dict[str, float], tie: float) -> tuple[str, list[str]]:
    """The tie rule: of the grid values whose mean score is within `tie` of the best (noise
    cannot order them), the middle one in grid order (the lower middle of an even count), so that
    a re-run's noise moves the pick less than taking the maximum would. Returns (pick, tied)."""
    best = max(scores.values())
    tied = [v for v, score in scores.items() if score >= best - tie]
    return tied[(len(tied) - 1) // 2], tied


NOISE_Z = 1.645  # one-sided 5 %: a value is tied unless the best beats it beyond noise


def noise_tie(seed_scores: dict[str, list[float]]) -> float:
    """`tune.tie: noise`: NOISE_Z standard errors of a difference of two grid values' means,
    from the tuning seeds' own spread: NOISE_Z * SD * sqrt(2 / seeds), SD the median over the
    grid of each value's SD across seeds (the median, so that a diverging value does not widen
    the tie). seed_scores: {grid value: [score per tuning seed]}."""
    import numpy as np

    spreads = [
        float(np.std(v, ddof=1))
        for v in (np.asarray(s, float) for s in seed_scores.values())
        if np.isfinite(v).sum() == len(v) >= 2
    ]
    if not spreads:  # tune() refuses fewer than 2 tuning seeds before any run: all diverged
        raise ConfigError(
            "tune.tie=noise found no grid value with a finite score on 2 or more tuning seeds "
            "(every value diverged); widen tune.grid towards smaller values."
        )
    seeds = int(np.median([len(s) for s in seed_scores.values()]))
    return float(NOISE_Z * np.median(spreads) * np.sqrt(2 / seeds))


def tie_words(entry: dict[str, Any]) -> str:
    """How a tuning.json entry's pick was taken from its tied values, for the report ("" when
    nothing tied with it)."""
    tied = entry.get("tied") or []
    if len(tied) < 2:
        return ""
    noise = entry.get("tie_rule") == "noise"
    size = f" ({NOISE_Z} standard errors of a difference, from the tuning seeds' spread)"
    middle = "middle one" if len(tied) % 2 else "lower of the middle two"
    return (
        f"; within {entry['tie']:.3g} of the best{size if noise else ''}: {', '.join(tied)} "
        f"(the {middle} in grid order is taken)"
    )


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


def to_widen(values: list[str], tied: list[str]) -> list[str]:
    """The grid values to tune next: one past each edge that a tied value sits at, both edges
    when the tie spans the grid (a flat response), so that the widened grid is not lopsided."""
    return list(dict.fromkeys(e for e in (beyond_edge(values, v) for v in tied) if e is not None))


def tune(name: str, out: Path, params: dict[str, str], spec, extra: list[str]) -> dict[str, Any]:
    """Stage 1: {arm slug: {"arm": {...}, "chosen": {key: value}, "scores": {...}}}.

    Each arm's value is picked by the tie rule (`tune.tie`: a number, default 0.002 of the
    metric, or `noise`: sized from the tuning seeds' spread, see `noise_tie`) from the mean over
    `tune.seeds`, the highest unless `tune.goal: min`; a pick (or a value tied with it)
    at an edge of a one-key numeric grid widens that arm's grid by one value past that edge (past
    both when the tie spans the grid) and tunes it, up to `tune.widen` times (default 2)."""
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
    tie_rule = spec.get("tie", 0.002)
    if tie_rule == "noise" and len(spec.get("seeds", [0])) < 2:
        raise ConfigError("tune.tie=noise needs 2 or more tune.seeds; pass tune.seeds=[0,1].")
    grid = {k: ",".join(str(v) for v in values) for k, values in spec.grid.items()}
    seeds = ",".join(str(s) for s in spec.get("seeds", [0]))
    # the tuning seeds come last: a seed list given for the final runs must not replace them
    common = ["test=false", *QUIET, *extra, f"hydra.sweeper.params.seed='{seeds}'"]
    train(
        f"experiment={name}",
        f"hydra.sweep.dir={out / 'tune'}",
        *common,
        *[f"{k}={v}" for k, v in {**grid, **held}.items()],
    )
    metric = spec.get("metric", "val/acc_best")
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
            tie = (
                noise_tie(group.groupby(list(grid))[metric].agg(list).to_dict())
                if tie_rule == "noise"
                else float(tie_rule)
            )
            best, tied = pick({k: sign * v for k, v in scores.items()}, tie)
            chosen[_arm_slug(arm)] = {
                "arm": arm,
                "chosen": dict(zip(grid, best.split(","))),
                "metric": metric,
                "tie": tie,
                "tie_rule": str(tie_rule),
                "tied": tied,
                "scores": {k: float(v) for k, v in scores.items()},
            }
            # widen past each edge that the pick, or any value tied with it, sits at
            if len(grid) == 1:
                widen += [(arm, nxt) for nxt in to_widen(list(scores.index), tied)]
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
