"""Sweep support on top of Hydra's own machinery: a per-sweep summary (a Hydra Callback), the
keys a sweep varies, and the DDP child-rank redirect (Lightning's launcher, pointed at the job's
config)."""

from __future__ import annotations

import fcntl
import json
import os
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from biaslab.run.files import RunDir
from biaslab.utils.rank import rank, slurm_step
from biaslab.utils.sweep_keys import SWEEP_MARKERS, swept_keys  # noqa: F401  (importable here)

JOB_CONFIG_ENV = "BIASLAB_JOB_CONFIG"
SUMMARY_JSONL = "summary.jsonl"
SUMMARY_MD = "summary.md"
SUMMARY_LOCK = ".summary.lock"
STOPPED = "stopped.txt"  # the one sentence a sweep stopped on (see stop_if_every_job_would_fail)
SAY_ENV = "BIASLAB_SWEEP_SAYS_ERROR"  # "0": a parent (the preset runner) says it instead
LOCAL_LAUNCHERS = ("BasicLauncher", "JoblibLauncher")  # where a job's exit ends the sweep


def redirect_ddp_child(argv: list[str]) -> list[str]:
    """Command line for a DDP child rank: the parent job's resolved config, nothing else.

    Lightning's subprocess launcher starts ranks > 0 by re-running sys.argv, which still holds
    `-m` and the sweep lists: each child would start a sweep of its own (stray dirs, and with
    Optuna other hyper-parameters). The parent job exports the path of its resolved config in
    BIASLAB_JOB_CONFIG; a child (global rank > 0) runs exactly that, in the same run dir.
    A rank > 0 that srun started keeps the user's command, but logs to rank_<N>.log and leaves
    the run dir's .hydra/ to rank 0 (`srun_rank_argv`).
    """
    config = os.environ.get(JOB_CONFIG_ENV)
    if rank().is_zero:
        return argv
    if not config:
        return srun_rank_argv(argv)
    run_dir, name = os.path.split(config)
    config_name = Path(name).stem
    return [
        argv[0],
        "-cp",
        run_dir,
        "-cn",
        config_name,
        f"hydra.run.dir={run_dir}",
        "hydra.output_subdir=null",
        f"hydra.job.name=rank_{rank().global_rank}",
    ]


def srun_rank_argv(argv: list[str]) -> list[str]:
    """A single run's rank > 0 in a multi-task srun step: its own log file, no .hydra/ copy."""
    if not slurm_step() or {"-m", "--multirun"} & set(argv):
        return argv
    keys = {a.partition("=")[0] for a in argv[1:]}
    extra = {"hydra.output_subdir": "null", "hydra.job.name": f"rank_{rank().global_rank}"}
    return [*argv, *(f"{k}={v}" for k, v in extra.items() if k not in keys)]


class SweepSummary(Callback):
    """After each job of a multirun, append its overrides, status and final metrics to
    <sweep dir>/summary.jsonl and rewrite summary.md; a failed job is listed with its error."""

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import JobStatus

        hc = HydraConfig.get()
        if hc.mode is None or hc.mode.name != "MULTIRUN" or not rank().is_zero:
            return  # every srun task of a job ends it; rank 0 writes its row
        run_dir = RunDir(hc.runtime.output_dir)
        row: dict[str, Any] = {
            "job": hc.job.num,
            "overrides": list(hc.overrides.task),
            "run_dir": str(run_dir.path),
            "status": "ok" if job_return.status == JobStatus.COMPLETED else "failed",
            "error": None,
            "metrics": {},
        }
        if job_return.status != JobStatus.COMPLETED:
            err = job_return._return_value
            text = "".join(traceback.format_exception_only(type(err), err)).strip()
            lines = [
                ln for ln in text.splitlines() if ln.strip() and not ln.startswith("full_key:")
            ]
            row["error"] = lines[-1] if lines else repr(err)
        row["metrics"] = run_dir.read_metrics()
        if row["status"] == "ok" and run_dir.pruned.exists():  # an Optuna pruner's stop
            row["status"] = "pruned"
        sweep_dir = Path(hc.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        with open(sweep_dir / SUMMARY_LOCK, "a") as lock:  # parallel jobs write in turn
            fcntl.flock(lock, fcntl.LOCK_EX)
            rows = {r["job"]: r for r in read_summary(sweep_dir)}
            rows[row["job"]] = row  # a job run again (a resumed sweep) replaces its row
            text = "".join(json.dumps(r) + "\n" for _, r in sorted(rows.items()))
            _replace(sweep_dir / SUMMARY_JSONL, text)
            write_summary_markdown(sweep_dir)
        if row["status"] == "failed":
            stop_if_every_job_would_fail(job_return._return_value, hc, sweep_dir)


def read_summary(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per job (the latest, when a resumed sweep ran a job's end again), by job."""
    path = Path(sweep_dir) / SUMMARY_JSONL
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted({r["job"]: r for r in rows}.values(), key=lambda r: r["job"])


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def write_summary_markdown(sweep_dir: Path) -> None:
    rows = read_summary(sweep_dir)
    keys = sorted({k for r in rows for k in r["metrics"] if k.startswith(("val/", "test/"))})
    lines = [
        "| job | overrides | status | " + " | ".join(keys) + " |",
        "|---" * (3 + len(keys)) + "|",
    ]
    for r in rows:
        status = r["status"] if r["status"] in ("ok", "pruned") else f"failed: {r['error']}"
        values = [
            f"{r['metrics'][k]:.4f}" if isinstance(r["metrics"].get(k), float | int) else ""
            for k in keys
        ]
        lines.append(
            f"| {r['job']} | {' '.join(r['overrides'])} | {status} | " + " | ".join(values) + " |"
        )
    _replace(Path(sweep_dir) / SUMMARY_MD, "\n".join(lines) + "\n")


def fails_every_job(err: BaseException, swept: set[str]) -> bool:
    """A job's error that every job of its sweep would meet: bad input said in one sentence
    (a ConfigError, e.g. MissingDataError) that names no key the sweep varies (those are one
    arm's own, e.g. model.backbone.downsample='bogus': the other arms still run)."""
    import re

    from biaslab.errors import ConfigError

    if not isinstance(err, ConfigError) or isinstance(err, FloatingPointError):
        return False  # a crash, or a diverged loss (an outcome of one run): the others may run
    text = str(err)
    return not any(re.search(rf"(?<![\w.]){re.escape(k)}(?!\w)", text) for k in swept)


def stop_if_every_job_would_fail(err: BaseException, hc: Any, sweep_dir: Path) -> None:
    """Fail fast: a job of a local sweep (Hydra's basic launcher, what presets run, or joblib:
    the SystemExit reaches the sweep's process, and jobs already started end with it) that
    failed on bad input every job shares ends the sweep there, exit 2, its sentence on stderr
    and in <sweep dir>/stopped.txt, instead of N jobs failing the same way one after another.
    Under submitit/SLURM the jobs are separate allocations: they all run, as before."""
    import sys

    if not any(k in str(hc.launcher.get("_target_", "")) for k in LOCAL_LAUNCHERS):
        return
    if not fails_every_job(err, swept_keys(sweep_dir)):
        return
    sentence = "; ".join(str(err).split("\n")).rstrip(". ") + (
        f" (the sweep in {sweep_dir} stopped at job {hc.job.num}: every job would fail on this)."
    )
    (sweep_dir / STOPPED).write_text(sentence + "\n")
    if os.environ.get(SAY_ENV) != "0":
        print(f"Error: {sentence}", file=sys.stderr, flush=True)
    sys.exit(2)
