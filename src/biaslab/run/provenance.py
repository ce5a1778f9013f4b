"""Where a run's code came from: the commit (and whether the tree was dirty) and the installed
package versions, written beside the run's config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from biaslab.run.files import RunDir

COMMIT_ENV = (
    "BIASLAB_COMMIT"  # the commit of a copied tree (a device machine): its .git may be stale
)


def _git(root_dir: Path, *args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root_dir, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def commit_of(root_dir: Path) -> str | None:
    """The commit the code came from: $BIASLAB_COMMIT if given, else git's HEAD, else None."""
    return os.environ.get(COMMIT_ENV) or _git(root_dir, "rev-parse", "HEAD") or None


def is_dirty(root_dir: Path) -> bool:
    """Does the tree hold uncommitted changes to tracked files?"""
    return bool(_git(root_dir, "status", "--porcelain", "--untracked-files=no"))


def device_name(accelerator: str = "auto") -> str:
    """The device a run trains on, in words: the GPU's name, or the CPU's model."""
    import platform

    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"CPU: {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def write_provenance(run_dir: RunDir, root_dir: Path, accelerator: str = "auto") -> None:
    """git commit (+ dirty flag), the device, the lock file's hash (requirements.lock: what
    `make venv` installs) and the installed package versions, beside the run's config."""
    import hashlib
    from importlib import metadata

    lock = Path(__file__).resolve().parents[3] / "requirements.lock"  # beside the code's src/

    info = {
        "git_commit": commit_of(root_dir),
        "git_dirty": is_dirty(root_dir),
        "device": device_name(accelerator),
        "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),  # the pool's pick, or what was visible
        "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else None,
        "python": sys.version.split()[0],
        "argv": sys.argv,
        "packages": dict(
            sorted({d.metadata["Name"]: d.version for d in metadata.distributions()}.items())
        ),
    }
    run_dir.provenance.write_text(json.dumps(info, indent=1))
