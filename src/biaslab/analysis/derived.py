"""Per-run metrics derived from each run's committed files."""

from __future__ import annotations

import math
from typing import Any

from biaslab.run.files import RunDir


def add_derived(frame, settings: dict[str, Any]) -> None:
    """Per-run metrics computed from each run's committed files, in place:
    - `diverged`: 1 when the final training loss is not finite or the training set's accuracy
      (eval mode) is below 2/K: the run learned next to nothing;
    - `steps_to_target` (with `report.target_loss`): the optimizer steps at the first epoch end
      whose train loss is <= the target (history.csv); NaN when never reached;
    - `at_target/val_acc` and `at_target/gap_acc` (with `report.target_loss`): the validation
      accuracy, and train minus validation accuracy, at that same epoch end: generalisation
      compared at a matched training loss, not at a matched budget; NaN when never reached."""
    import pandas as pd

    if frame.empty or "run_dir" not in frame:
        return
    diverged, steps, val_acc, gap = [], [], [], []
    target = settings.get("target_loss")
    for _, r in frame.iterrows():
        if r.get("status") != "ok":
            for column in (diverged, steps, val_acc, gap):
                column.append(math.nan)
            continue
        run = RunDir(r["run_dir"])
        k = (run.read_config().get("data") or {}).get("num_classes", 10)
        loss, acc = r.get("train_eval/loss", math.nan), r.get("train_eval/acc", math.nan)
        diverged.append(float(not math.isfinite(loss) or acc < 2 / int(k)))
        if target is not None and run.history.exists():
            h = pd.read_csv(run.history)
            hit = h[h["train/loss"] <= float(target)]
            first = hit.iloc[0] if len(hit) else None
            steps.append(math.nan if first is None else float(first["step"]))
            seen = first is not None and "val/acc" in h and first["val/acc"] == first["val/acc"]
            val_acc.append(float(first["val/acc"]) if seen else math.nan)
            gap.append(float(first["train/acc"] - first["val/acc"]) if seen else math.nan)
        else:
            steps.append(math.nan)
            val_acc.append(math.nan)
            gap.append(math.nan)
    frame["diverged"] = diverged
    if target is not None:
        frame["steps_to_target"] = steps
        frame["at_target/val_acc"] = val_acc
        frame["at_target/gap_acc"] = gap
