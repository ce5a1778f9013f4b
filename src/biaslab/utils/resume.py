"""Find where a run should resume: `resume=auto` (default) or `resume=never`.

1. an explicit `ckpt_path` wins;
2. the run dir's own `checkpoints/last.ckpt` (a requeued SLURM job reruns in its own dir);
3. for a single run started again with the same command: the newest unfinished run dir beside
   this one with the same overrides and a `last.ckpt` is adopted, so checkpoints, logs and the
   W&B run id continue there.
"""

from __future__ import annotations

from pathlib import Path

import yaml

FINISHED_MARKER = "metrics.json"


def _overrides(run_dir: Path) -> list[str] | None:
    path = run_dir / ".hydra" / "overrides.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else None


def find_resume(
    run_dir: Path, overrides: list[str] | None, multirun: bool
) -> tuple[Path, Path | None]:
    """(run dir to use, checkpoint to resume from or None)."""
    own = run_dir / "checkpoints" / "last.ckpt"
    if own.exists():
        return run_dir, own
    if multirun or overrides is None or not run_dir.parent.is_dir():
        return run_dir, None
    candidates = sorted(
        (p for p in run_dir.parent.iterdir() if p.is_dir() and p != run_dir),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for previous in candidates:
        last = previous / "checkpoints" / "last.ckpt"
        if (
            last.exists()
            and not (previous / FINISHED_MARKER).exists()
            and _overrides(previous) == overrides
        ):
            return previous, last
    return run_dir, None
