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


def write_provenance(run_dir: RunDir, root_dir: Path) -> None:
    """git commit (+ dirty flag) and installed package versions, beside the run's config."""
    from importlib import metadata

    info = {
        "git_commit": commit_of(root_dir),
        "git_dirty": bool(_git(root_dir, "status", "--porcelain", "--untracked-files=no")),
        "python": sys.version.split()[0],
        "argv": sys.argv,
        "packages": dict(
            sorted({d.metadata["Name"]: d.version for d in metadata.distributions()}.items())
        ),
    }
    run_dir.provenance.write_text(json.dumps(info, indent=1))
