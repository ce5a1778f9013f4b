"""Loading a sweep's runs: one row per job from each run dir's own files (through `RunDir`), or
the same frame from a W&B group; the sweep's swept keys and its `report:` settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError
from biaslab.run.files import RunDir
from biaslab.run.sweep import swept_keys


def load_sweep(sweep_dir: str | Path):
    """A pandas DataFrame: one row per finished job, a column per swept key and per metric.
    A dir of sweeps (a tuned preset: one sweep per arm) gives their rows together."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ConfigError(
            f"{sweep_dir} is not a folder; pass a sweep dir (src/train.py -m, "
            "scripts/run_preset.py) or a published docs/results/<preset>."
        )
    parts = sorted(p for p in sweep_dir.iterdir() if (p / "multirun.yaml").exists())
    if not (sweep_dir / "multirun.yaml").exists() and parts:
        frames = [load_sweep(p) for p in parts]
        frame = pd.concat(frames, ignore_index=True)
        frame.attrs["factors"] = sorted({f for fr in frames for f in factors(fr)})
        return frame
    keys = swept_keys(sweep_dir)
    rows = []
    for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()):
        run = RunDir(job)
        if not run.overrides.exists():
            continue
        overrides = dict(
            o.split("=", 1) for o in _read(run.read_overrides, run.overrides, job) or []
        )
        row: dict[str, Any] = {"job": int(job.name), **{k: overrides.get(k) for k in sorted(keys)}}
        row.setdefault("seed", overrides.get("seed"))
        for key in unused_groups(job, keys):  # e.g. pe for a CNN: not a factor of this arm
            row[key] = UNUSED
        row["status"] = "ok" if run.finished else "failed"
        row["run_dir"] = str(job)
        if run.finished:
            row.update(_read(run.read_metrics, run.metrics, job))
            if row.get("pruned"):  # stopped by an Optuna pruner: not a finished arm
                row["status"] = "pruned"
        rows.append(row)
    if not rows:
        raise ConfigError(
            f"{sweep_dir} holds no runs (no job folder with .hydra/overrides.yaml); pass a sweep "
            "dir (src/train.py -m, scripts/run_preset.py) or a published docs/results/<preset>."
        )
    frame = pd.DataFrame(rows)
    factor_keys = sorted(k for k in keys if k != "seed")
    if rows and "seed" in frame and factor_keys:  # arms that differed only in an unused key
        frame = frame.drop_duplicates(subset=[*factor_keys, "seed"], keep="first")
    frame.attrs["factors"] = factor_keys
    return frame


UNUSED = "(unused)"


def _read(read: Any, path: Path, job: Path) -> Any:
    """`read()` of a run's file, or one sentence naming the file when it is damaged (a cut
    write, a hand edit): which file, and that removing its job folder re-runs that job."""
    import yaml

    try:
        value = read()
    except (ValueError, OSError, yaml.YAMLError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:100]
        raise ConfigError(
            f"{path} cannot be read ({reason}); restore it, or remove {job} and run "
            "the sweep's command again to re-run that job."
        ) from err
    if path.suffix == ".json" and not isinstance(value, dict):
        raise ConfigError(f"{path} holds no metrics mapping; restore it or re-run that job.")
    return value


def unused_groups(job: Path, keys: set[str]) -> list[str]:
    """Swept keys that the job's model did not use: recorded as null in its resolved config
    (`biaslab.run.build.record_unused`)."""
    run = RunDir(job)
    if not run.config.exists():
        return []
    resolved = run.read_config()
    return [k for k in keys if "." not in k and k in resolved and resolved[k] is None]


def name_values(name: str) -> dict[str, str]:
    """A run's name (`model.backbone.channels=[32,64],seed=1`) -> its swept values; a comma
    splits only where a `key=` follows, so list values keep theirs. (Runs logged before the
    config held `swept` are read this way.)"""
    parts = re.split(r",(?=[\w.+~/-]+=)", name)
    return dict(part.split("=", 1) for part in parts if "=" in part)


def load_wandb_group(path: str, group: str):
    """The same frame from W&B (online): runs of `entity/project` in `group`, one row per run,
    the swept values from each run's config (`swept`, which a rename in W&B's UI leaves alone)
    and metrics from run summaries."""
    import wandb

    return wandb_runs_frame(wandb.Api().runs(path, filters={"group": group}))


def load_wandb_files(root: str | Path, group: str | None = None):
    """The same frame from W&B's own offline run files under `root` (`run-<id>.wandb`, as a
    sweep with logger=wandb leaves them, before or without `wandb sync`), optionally one group:
    each file read as the API's run (`biaslab.utils.wandb_files.read_run`)."""
    from biaslab.utils.wandb_files import find_run_files, read_run

    runs = [read_run(path) for path in find_run_files(root)]
    return wandb_runs_frame([r for r in runs if group is None or r.group == group])


def wandb_runs_frame(runs):
    """The `load_sweep` frame from W&B runs (the API's, or `OfflineRun`s: `.config`,
    `.summary`, `.state`, `.id`): one row per job (a preset's report run, eval.py's runs and
    tuning runs left out, as the run-dir report never reads them) with its swept
    values (the config's `swept`, else the run's name), an unused group as `UNUSED` (null in
    the config), status, and the numeric summary; arms that differed only in an unused key
    are dropped as `load_sweep` drops them."""
    import pandas as pd

    rows, keys = [], set()
    for run in runs:
        config = dict(run.config)
        if getattr(run, "job_type", "") in NOT_JOBS or tuning_run(config):
            continue
        values = config.get("swept") if "swept" in config else name_values(run.name)
        values = {k: str(v) for k, v in (values or {}).items()}
        keys.update(values)
        row = {**values}
        row.setdefault("seed", None)  # as `load_sweep`: the seed's column even when not set
        for key in values:  # e.g. pe for a CNN: not a factor of this arm
            if "." not in key and key in config and config[key] is None:
                row[key] = UNUSED
        summary = dict(run.summary)
        row["status"] = "ok" if run.state == "finished" else "failed"
        if row["status"] == "ok" and summary.get("pruned"):
            row["status"] = "pruned"
        row.update({k: v for k, v in summary.items() if isinstance(v, int | float)})
        rows.append((sorted(values.items()), run.id, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    frame = pd.DataFrame([{"job": i, **row} for i, (_, _, row) in enumerate(rows)])
    factor_keys = sorted(k for k in keys if k != "seed")
    if rows and "seed" in frame and factor_keys:
        frame = frame.drop_duplicates(subset=[*factor_keys, "seed"], keep="first")
    frame.attrs["factors"] = factor_keys
    return frame


NOT_JOBS = ("report", "eval")  # job types in a sweep's W&B group that are no job of it


def tuning_run(config: dict[str, Any]) -> bool:
    """A run trained without its test (`test: false` in its config): a tuned preset's tuning
    run, which shares the preset's W&B group with the final runs but lives in the preset's
    `tune*/` folders, which the run-dir report never reads; so the W&B readers leave it out
    too (it has no test metrics, and with a final run's arm and seed it could displace it)."""
    return str(config.get("test")).lower() == "false"


def factors(frame) -> list[str]:
    """The swept keys other than the seed (recorded by `load_sweep`)."""
    return list(frame.attrs.get("factors", []))


def sweep_settings(sweep_dir: Path) -> dict[str, Any]:
    """The `report:` node (baseline, delta, metrics) of the sweep's first job's config."""
    jobs = sorted(p for p in Path(sweep_dir).glob("*") if RunDir(p).config.exists()) or sorted(
        p for p in Path(sweep_dir).glob("*/*") if RunDir(p).config.exists()
    )  # a tuned preset: a sweep per arm
    for job in jobs:
        return RunDir(job).read_config().get("report") or {}
    return {}
