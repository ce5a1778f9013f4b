"""Learning-rate schedules as per-step multipliers (LambdaLR), built with the run's step count.

A package so that a new optimizer or schedule is a new file beside this one
(`biaslab/optim/<name>.py`) and its `conf/optimizer/<name>.yaml` or `conf/scheduler/<name>.yaml`:
an optimizer is built as `optimizer(params=...)` (`_partial_: true`), a schedule as
`scheduler(optimizer, total_steps=...)`, returning a torch LR scheduler stepped every step.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def _check(name: str, value: float, low: float, high: float, closed_low: bool = True) -> None:
    """Refuse a schedule argument outside [low, high] (or (low, high]) in one sentence."""
    ok = (value >= low if closed_low else value > low) and value <= high
    if not ok:
        interval = f"{'[' if closed_low else '('}{low:g}, {high:g}]"
        raise ValueError(f"scheduler.{name}={value} must lie in {interval}; fix scheduler.{name}.")


def _warmup_steps(total_steps: int, warmup: float) -> int:
    """`warmup` < 1 is a fraction of the run, >= 1 a number of steps."""
    return int(warmup * total_steps) if warmup < 1 else int(warmup)


def constant(optimizer: Optimizer, total_steps: int) -> LambdaLR:
    return LambdaLR(optimizer, lambda step: 1.0)


def step_decay(
    optimizer: Optimizer, total_steps: int, every: float = 0.33, gamma: float = 0.1
) -> LambdaLR:
    """Multiply the rate by `gamma` every `every` of the run (fraction) or steps (>= 1)."""
    _check("gamma", gamma, 0.0, math.inf, closed_low=False)
    _check("every", every, 0.0, math.inf, closed_low=False)
    period = max(1, _warmup_steps(total_steps, every))
    return LambdaLR(optimizer, lambda step: gamma ** (step // period))


def cosine(optimizer: Optimizer, total_steps: int, min_ratio: float = 0.0) -> LambdaLR:
    """Cosine decay from the base rate to `min_ratio` x base over the run."""
    _check("min_ratio", min_ratio, 0.0, 1.0)

    def factor(step: int) -> float:
        progress = min(step / max(1, total_steps), 1.0)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def warmup_cosine(
    optimizer: Optimizer, total_steps: int, warmup: float = 0.1, min_ratio: float = 0.0
) -> LambdaLR:
    """Linear warm-up from ~0 over `warmup` (fraction or steps), then cosine decay."""
    _check("warmup", warmup, 0.0, math.inf)
    _check("min_ratio", min_ratio, 0.0, 1.0)
    warm = _warmup_steps(total_steps, warmup)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min((step - warm) / max(1, total_steps - warm), 1.0)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
