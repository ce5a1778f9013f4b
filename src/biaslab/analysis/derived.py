"""Per-run metrics derived from each run's committed files, and the depth flags."""

from __future__ import annotations

import math
from typing import Any

from biaslab.analysis.load import factors
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


def depth_flags(frame) -> list[str]:
    """The lecture's optimisation tell-tale over a depth factor, within each arm of the other
    factors: a deeper model whose training loss (eval mode, `train_eval/loss`) is higher than a
    shallower one's, significantly (paired t over seeds, p < 0.05, one-sided)."""
    from scipy import stats as sps

    metric = "train_eval/loss" if "train_eval/loss" in frame else "train/loss"
    flags = []
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    for factor in factors(frame):
        if "depth" not in factor or metric not in ok:
            continue
        others = [f for f in factors(frame) if f != factor]
        for label, group in ok.groupby(others, dropna=False) if others else [((), ok)]:
            label = label if isinstance(label, tuple) else (label,)
            at = ",".join(f"{k}={v}" for k, v in zip(others, label))
            by_depth = {float(d): g.set_index("seed")[metric] for d, g in group.groupby(factor)}
            for shallow in sorted(by_depth):
                for deep in sorted(d for d in by_depth if d > shallow):
                    a, b = by_depth[deep].align(by_depth[shallow], join="inner")
                    if len(a) < 2 or not (a - b).mean() > 0:
                        continue
                    p = float(sps.ttest_rel(a, b, alternative="greater").pvalue)
                    if p < 0.05:
                        flags.append(
                            f"{at + ': ' if at else ''}depth {deep:g} trains worse than depth "
                            f"{shallow:g} ({a.mean():.3g} > {b.mean():.3g}, p = {p:.2g}): an "
                            "optimisation problem, not model bias"
                        )
    return flags
