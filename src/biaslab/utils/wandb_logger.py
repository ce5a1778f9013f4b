"""Lightning's W&B logger with `model:best` the best-validation checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.loggers.utilities import _scan_checkpoints
from torch import Tensor


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger, except for the checkpoint artifacts' aliases (log_model): it
    gives `best` to the newest checkpoint of *every* checkpoint callback's `best_model_path`,
    and the `last` callback (monitor: null) counts its own file as best, so `model:best` could
    be `last.ckpt`. Here only a monitored callback's best checkpoint is `best`; an unmonitored
    callback's checkpoint is `last`. Both are versions of `model-<run id>`, each with `latest`
    as Lightning gives it; the metadata says the monitor, its score and the file name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wandb_init.pop("anonymous", None)  # W&B warns on any value given, None included

    def _scan_and_log_checkpoints(self, checkpoint_callback: ModelCheckpoint) -> None:
        import wandb

        monitored = checkpoint_callback.monitor is not None
        for mtime, path, score, _ in _scan_checkpoints(
            checkpoint_callback, self._logged_model_time
        ):
            best = monitored and path == checkpoint_callback.best_model_path
            metadata = {
                "score": score.item() if isinstance(score, Tensor) else score,
                "monitor": checkpoint_callback.monitor,
                "mode": checkpoint_callback.mode,
                "original_filename": Path(path).name,
            }
            if not self._checkpoint_name:
                self._checkpoint_name = f"model-{self.experiment.id}"
            artifact = wandb.Artifact(name=self._checkpoint_name, type="model", metadata=metadata)
            artifact.add_file(path, name="model.ckpt", policy=self.add_file_policy)
            aliases = ["latest", "best" if best else "last" if not monitored else "top_k"]
            self.experiment.log_artifact(artifact, aliases=aliases)
            self._logged_model_time[path] = mtime
