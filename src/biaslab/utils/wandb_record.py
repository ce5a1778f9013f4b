"""W&B as the record: what a run, an evaluation and a preset's report put into W&B beyond the
metrics Lightning logs (the summary, the test predictions and their confusion matrix, the
report's verdicts and charts), and the tested run's W&B run (`src/eval.py`'s group, built in
`biaslab.run.loggers.eval_loggers`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("biaslab")


def record_in_wandb(
    loggers, metrics: dict[str, float], predictions: Path, class_names: list[str] | None = None
) -> None:
    """W&B as the record of the run: the summary gets every `metrics.json` key (finite), and
    the test predictions go in as an artifact (the .npz and a Table of target, prediction) with
    a confusion matrix labelled by `class_names` (the datamodule's; else the class indices), so
    a report can be rebuilt from W&B alone."""
    import math

    from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

    for logger in loggers:
        if not isinstance(logger, LightningWandbLogger):
            continue
        run = logger.experiment
        run.summary.update({k: v for k, v in metrics.items() if math.isfinite(v)})
        if predictions.exists():
            import numpy as np
            import wandb

            saved = np.load(predictions)
            target, pred = saved["target"].tolist(), saved["pred"].tolist()
            artifact = wandb.Artifact(f"predictions-{run.id}", type="predictions")
            artifact.add_file(str(predictions))
            artifact.add(
                wandb.Table(columns=["target", "pred"], data=list(zip(target, pred))), "test"
            )
            run.log_artifact(artifact)
            names = confusion_names(class_names, max(target + pred, default=0) + 1)
            matrix = wandb.plot.confusion_matrix(y_true=target, preds=pred, class_names=names)
            run.log({"test/confusion": matrix})


def confusion_names(class_names: list[str] | None, seen: int) -> list[str]:
    """The labels of a confusion matrix: the data's class names, else `0`, `1`, ... (W&B's
    own default reads `Class_1`... for class 0...); never fewer than the classes `seen`."""
    names = [str(n) for n in class_names or []]
    return names + [str(i) for i in range(len(names), seen)]


def log_report_media(run, report: Path) -> None:
    """A report dir in its W&B run: `verdicts`, a Table of report.csv (a row per arm: means,
    intervals, differences from the baseline, Holm p-values, verdict), `forest` (forest.png)
    and each other chart as an image under `charts/<file stem>`."""
    import pandas as pd
    import wandb

    logged: dict[str, Any] = {}
    if (report / "report.csv").exists():
        frame = pd.read_csv(report / "report.csv").astype(object)
        logged["verdicts"] = wandb.Table(dataframe=frame.where(frame.notna(), None))
    for png in sorted(report.glob("*.png")):
        key = "forest" if png.name == "forest.png" else f"charts/{png.stem}"
        logged[key] = wandb.Image(str(png))
    if logged:
        run.log(logged)


def trained_run(ckpt_path: Path):
    """The W&B run (`OfflineRun`) of the run dir a checkpoint was saved in (its newest run file
    under `<run dir>/wandb`), or None when that run logged no W&B run."""
    from biaslab.utils.wandb_files import find_run_files, read_run

    files = find_run_files(ckpt_path.resolve().parent.parent / "wandb")
    try:
        return read_run(max(files, key=lambda f: f.stat().st_mtime)) if files else None
    except (OSError, ValueError, StopIteration) as err:  # a cut or foreign file: no group then
        log.warning("Could not read the tested run's W&B run file (%s): eval run ungrouped.", err)
        return None
