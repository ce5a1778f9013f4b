"""Checkpoints written atomically and read with torch's `weights_only=True`."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from biaslab.errors import ConfigError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file in the same folder, fsync, then rename over the target: a kill
    during a save leaves the previous checkpoint whole, never a truncated one."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise unwritable(path, err) from err
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as err:  # a folder made read-only (or a disk made full) mid-run
            raise unwritable(path, err) from err
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as err:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(err, OSError):
                raise unwritable(path, err) from err
            raise

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


def unwritable(path: Path, err: OSError) -> ConfigError:
    """One sentence for a checkpoint that cannot be written (a full disk, a folder made
    read-only while the run trained): the previous checkpoint is intact, and the same command
    resumes from it once the folder takes writes again."""
    reason = "no space left on the device" if err.errno == errno.ENOSPC else err.strerror
    return ConfigError(
        f"paths.output_dir={path.parent.parent}: cannot write checkpoints/{path.name} "
        f"({reason or type(err).__name__}); the previous checkpoint is intact: free space or "
        "make that folder writable and run the same command again to resume from it."
    )
