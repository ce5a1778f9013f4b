"""The only part of the study layer that starts processes: a preset's tuning sweeps, their
widenings and its compared seeds (`src/train.py -m`, one per `plan.Sweep`), then preset.json,
the report and, with --publish, the published copy. What runs is `biaslab.study.plan`'s; how a
pick is made is `biaslab.study.tuning`'s (pure). Every stage writes into a fixed sweep dir
(logs/presets/NAME/...), so the same command after a stop skips finished jobs and resumes the
cut one. A preset with `exclusive: true` (its metric is a measured time) runs its jobs one at a
time, whatever launcher the command line asks for."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError
from biaslab.study.compose import (
    ROOT,
    check_declaration,
    declaration_hash,
    machine,
    preset_config,
    preset_dir,
    preset_of,
)
from biaslab.study.plan import Plan, Sweep, group, record
from biaslab.study.publish import check_publishable, log_report, publish_files, set_aside
from biaslab.study.tuning import picks


def train(name: str, out: Path, sweep: Sweep) -> None:
    """One multirun of src/train.py (`sweep` in `out`); a failed job fails the stage with one
    sentence: the bad input every job would meet, on which the sweep stopped at its first job
    (`biaslab.run.sweep.stop_if_every_job_would_fail`), or else how many jobs failed, the first
    one's error and where the summary lists them."""
    import os

    from biaslab.run.sweep import SAY_ENV, STOPPED, read_summary

    folder = out / sweep.folder
    (folder / STOPPED).unlink(missing_ok=True)  # a sentence left by an earlier session
    cmd = [sys.executable, str(ROOT / "src" / "train.py"), "-m", *sweep.args(name, out)]
    code = subprocess.run(cmd, cwd=ROOT, env={**os.environ, SAY_ENV: "0"}).returncode
    if code == 0:
        return
    if (folder / STOPPED).exists():
        raise ConfigError((folder / STOPPED).read_text().strip())
    if code == 2:  # refused before any job (the child said its one sentence)
        raise SystemExit(2)
    failed = [r for r in read_summary(folder) if r["status"] == "failed"]
    first = f" (the first, job {failed[0]['job']}: {failed[0]['error']})" if failed else ""
    raise ConfigError(
        f"{len(failed) or 'a'} job(s) of the sweep in {folder} failed{first}, exit {code}; see "
        f"{folder / 'summary.md'} and fix the cause: the same command resumes, finished jobs kept."
    )


def run_tuning(plan: Plan, out: Path) -> dict[str, Any]:
    """Stage 1: the tuning sweeps, then rounds of widening past an edge pick (up to
    `tune.widen`), the picks taken by `study.tuning.picks` on all the scores so far."""
    import pandas as pd

    from biaslab.analysis.load import load_sweep

    name, tune = plan.preset.name, plan.preset.tune
    for sweep in plan.tuning():
        train(name, out, sweep)
    frames = [load_sweep(out / "tune")]
    for done in range(tune.widen + 1):
        chosen, widen = picks(pd.concat(frames, ignore_index=True), tune, plan.over)
        if not widen or done == tune.widen:
            return chosen
        for arm, value in widen:
            sweep = plan.widening(arm, value)
            train(name, out, sweep)
            widened = load_sweep(out / sweep.folder)
            widened[next(iter(tune.grid))] = value  # a plain override there, not a column
            frames.append(widened)
    return chosen


def run_stages(plan: Plan, out: Path) -> Path:
    """Tuning (if declared) and the compared seeds; returns the dir the report is built from."""
    final = out / "final"
    chosen = run_tuning(plan, out) if plan.preset.tune else None
    for sweep in plan.final(chosen):
        train(plan.preset.name, out, sweep)
    if chosen is not None:
        (final / "tuning.json").write_text(json.dumps(chosen, indent=1) + "\n")
    return final


def prepare(name: str, extra: list[str], out: Path | None, publish: bool, fresh: bool):
    """Everything checked before a preset's first run (its name, overrides, typed declaration
    with every baseline and comparison against the arms, a clean tree and one protocol for
    --publish), then --fresh's move: (cfg, plan, out, claim)."""
    from omegaconf import OmegaConf

    cfg = preset_config(name, extra)
    if cfg.get("exclusive"):  # measured times: no other job may share the CPU
        parallel = [e for e in extra if e.startswith(("hydra/launcher=", "hydra.launcher."))]
        if parallel:
            print(
                f"{name} measures time: its jobs run one at a time ({' '.join(parallel)} ignored)"
            )
        extra = [e for e in extra if e not in parallel]
        cfg = preset_config(name, extra)
    preset = preset_of(name, cfg)
    out = Path(out or preset_dir(name))
    if publish:
        check_publishable(preset, ROOT / "docs" / "results" / name)
    claim = OmegaConf.to_container(cfg.claim, resolve=True) if cfg.get("claim") else None
    moved = set_aside(out) if fresh else None
    if moved:
        print(f"--fresh: the earlier runs of {name} were moved to {moved} (kept, e.g. as a pilot)")
    check_declaration(name, out, claim, preset.protocol)
    if "wandb" in (cfg.get("logger") or {}) and not any(
        e.startswith("logger.wandb.group=") for e in extra
    ):  # the user's own logger; its runs grouped by preset and declaration (a resume rejoins)
        extra = [*extra, group(name, declaration_hash(claim))]
    return cfg, Plan(preset, tuple(extra)), out, claim


def _timed(plan: Plan, out: Path) -> Path:
    """run_stages, its wall time added to out/wall.json even when stopped (SIGTERM too)."""
    start = time.time()
    stop = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so `finally` runs on SIGTERM too
    try:
        return run_stages(plan, out)
    finally:
        signal.signal(signal.SIGTERM, stop)
        wall_file = out / "wall.json"
        spent = json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else 0.0
        out.mkdir(parents=True, exist_ok=True)
        wall_file.write_text(json.dumps({"wall_s": spent + time.time() - start}) + "\n")


def run_preset(
    name: str,
    extra: list[str] = (),
    out: Path | None = None,
    publish: bool = False,
    fresh: bool = False,
) -> Path:
    """Run (or resume) one preset; return the dir its report is built from. `fresh`: its
    earlier runs are first moved aside (`set_aside`), once the name and declaration passed."""
    from biaslab.analysis.report import write_report
    from biaslab.run.provenance import commit_of

    cfg, plan, out, claim = prepare(name, list(extra), out, publish, fresh)
    final = _timed(plan, out)
    info = {
        "command": " ".join(["python scripts/run_preset.py", name, *extra]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "commit": (commit_of(ROOT) or "")[:7],
        "wall_s": json.loads((out / "wall.json").read_text())["wall_s"],
        "declaration": declaration_hash(claim),
        **record(plan),
    }
    (final / "preset.json").write_text(json.dumps(info, indent=1) + "\n")
    write_report(final)
    if publish:
        final = publish_files(final, ROOT / "docs" / "results" / name)
        write_report(final)
    if "wandb" in (cfg.get("logger") or {}):
        log_report(cfg, name, final / "report", declaration_hash(claim), out)
    return final


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM (a scheduler, `timeout`) ends the preset like Ctrl+C: cleanup runs, exit 143."""
    raise SystemExit(128 + signum)
