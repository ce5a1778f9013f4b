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
      whose train loss is <= the target (history.csv); NaN when never reached."""
    import pandas as pd

    if frame.empty or "run_dir" not in frame:
        return
    diverged, steps = [], []
    target = settings.get("target_loss")
    for _, r in frame.iterrows():
        if r.get("status") != "ok":
            diverged.append(math.nan)
            steps.append(math.nan)
            continue
        run = RunDir(r["run_dir"])
        k = (run.read_config().get("data") or {}).get("num_classes", 10)
        loss, acc = r.get("train_eval/loss", math.nan), r.get("train_eval/acc", math.nan)
        diverged.append(float(not math.isfinite(loss) or acc < 2 / int(k)))
        if target is not None and run.history.exists():
            h = pd.read_csv(run.history)
            hit = h[h["train/loss"] <= float(target)]
            steps.append(float(hit["step"].iloc[0]) if len(hit) else math.nan)
        else:
            steps.append(math.nan)
    frame["diverged"] = diverged
    if target is not None:
        frame["steps_to_target"] = steps
