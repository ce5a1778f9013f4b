"""Names are names: a folder named by a config value stays under its root, and a name is one plain
folder name. Checked before anything is written, moved or deleted (the run dir guard's Hydra
callbacks, the preset runner), each refusal one sentence naming the key and the fix."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError

NAME_MAX = 255  # bytes in one folder name (Linux, macOS): longer gives ENAMETOOLONG
PATH_MAX = 4096  # bytes in a whole path
ROOM = 512  # bytes a run writes below its dir (checkpoints/…, wandb/offline-run-…/files/…)


def plain_name(value: Any, key: str, fix: str) -> str:
    """`value` as one folder name (not empty, no `/`, not `.` or `..`, at most NAME_MAX bytes),
    or ConfigError naming `key`; `fix` says what to pass instead."""
    text = "" if value is None else str(value)
    bad = (
        "is empty"
        if not text.strip()
        else "is not one folder name (it holds a path separator or is . or ..)"
        if "/" in text or "\\" in text or "\0" in text or text in (".", "..")
        else f"is longer than a folder name may be ({NAME_MAX} bytes)"
        if len(text.encode()) > NAME_MAX
        else None
    )
    if bad:
        named = f"{key} {text!r}" if " " in key else f"{key}={text!r}"  # a name, or a key=
        raise ConfigError(f"{named} {bad}; {fix}.")
    return text


def check_inside(path: str | Path, root: str | Path, key: str) -> Path:
    """`path` resolved (`..` and links followed) must lie under `root`, or ConfigError."""
    where, base = Path(path).resolve(), Path(root).resolve()
    if where != base and base not in where.parents:
        raise ConfigError(
            f"{key} puts its folder at {where}, outside {base}; give a plain name without "
            "`..` or `/` so that it stays there."
        )
    return where


def check_length(path: str | Path, key: str) -> None:
    """A folder the OS can create and a run can write below: each name at most NAME_MAX bytes,
    the whole at most PATH_MAX - ROOM bytes (else ENAMETOOLONG deep inside a library)."""
    text = str(Path(path).absolute())
    longest = max((len(p.encode()) for p in Path(text).parts), default=0)
    if longest > NAME_MAX or len(text.encode()) > PATH_MAX - ROOM:
        raise ConfigError(
            f"{key} is too long for the file system ({len(text.encode())} bytes, the longest "
            f"folder name {longest}; at most {NAME_MAX} per name and {PATH_MAX - ROOM} in all); "
            f"pass a shorter {key}."
        )


def check_output_dirs(config: Any) -> None:
    """Before Hydra creates a run's or a sweep's folder: `task_name` is a plain name, the folder
    is not empty (`''` would be the folder the command started in), fits the file system, and a
    folder built under paths.log_dir (the default) stays there; a sweep's job subdir stays in
    the sweep dir."""
    from omegaconf import OmegaConf

    plain_name(config.get("task_name"), "task_name", "pass a plain name such as task_name=train")
    multirun = str(OmegaConf.select(config, "hydra.mode", default="")).endswith("MULTIRUN")
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    try:
        raw = OmegaConf.select(config, key, default=None)
    except Exception:  # an interpolation only Hydra resolves later: Hydra says what is wrong
        return
    if raw is None or not str(raw).strip():
        raise ConfigError(
            f"{key}={'' if raw is None else raw!r} is empty, which would write into the folder "
            f"the command started in; pass a folder, or drop {key} for the default under logs/."
        )
    check_length(raw, key)
    unresolved = OmegaConf.to_container(config.hydra, resolve=False)
    template = str((unresolved.get("sweep" if multirun else "run") or {}).get("dir", ""))
    if template.startswith("${paths.log_dir}"):
        check_inside(raw, config.paths.log_dir, key)
    subdir = str((unresolved.get("sweep") or {}).get("subdir", ""))
    if multirun and (subdir.startswith("/") or ".." in Path(subdir).parts):
        raise ConfigError(
            f"hydra.sweep.subdir={subdir} leaves the sweep dir; pass a name inside it, e.g. "
            "hydra.sweep.subdir=${hydra.job.num}."
        )


def refuse_and_exit(err: ConfigError) -> None:
    """Say `err` as one sentence and exit 2, from a Hydra callback in any mode (Hydra turns an
    exception raised there into a warning and goes on; HYDRA_FULL_ERROR=1 prints the stack)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        import traceback

        traceback.print_exception(err)
    print("Error: " + "; ".join(str(err).split("\n")), file=sys.stderr, flush=True)
    sys.exit(2)
