"""The metric registry: for each metric a run records, which direction is better (or none), its
unit and which weights or span it is read at. The statistics (which way a verdict points), the
text ("lower is better") and the chart labels all read it, so no metric gets a direction word
it does not have."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    better: str | None  # "higher", "lower", or None: no direction is better
    unit: str
    read_at: str  # "best" (best-validation checkpoint), "final" (last weights), "run" (whole
    # run), "target" (the first epoch end whose train loss reached report.target_loss)

    @property
    def direction_words(self) -> str:
        """`(higher is better)`, `(lower is better)`, or nothing."""
        return f" ({self.better} is better)" if self.better else ""

    @property
    def label(self) -> str:
        """A chart's axis label: the name, unit and weights."""
        weights = {
            "best": "best-validation weights",
            "final": "final weights",
            "run": "whole run",
            "target": "at the target train loss",
        }
        unit = f", {self.unit}" if self.unit else ""
        return f"{self.name} ({weights[self.read_at]}{unit})"


_EXACT = {
    "test/acc": ("higher", "proportion", "best"),
    "test/loss": ("lower", "nats", "best"),
    "test_last/acc": ("higher", "proportion", "final"),
    "test_last/loss": ("lower", "nats", "final"),
    "train_eval/acc": ("higher", "proportion", "final"),
    "train_eval/loss": ("lower", "nats", "final"),
    "train_eval/saturated_wrong": ("lower", "proportion", "final"),
    "train_eval_best/acc": ("higher", "proportion", "best"),
    "train_eval_best/loss": ("lower", "nats", "best"),
    "gap/acc": (None, "proportion", "best"),  # train − test: small is not better by itself
    "gap/loss": (None, "nats", "best"),
    "val/acc": ("higher", "proportion", "final"),
    "val/acc_best": ("higher", "proportion", "run"),
    "val/loss": ("lower", "nats", "final"),
    "train/loss": ("lower", "nats", "final"),
    "train/acc": ("higher", "proportion", "final"),
    "diverged": ("lower", "share of runs", "final"),
    "steps_to_target": ("lower", "steps", "run"),
    "at_target/val_acc": ("higher", "proportion", "target"),
    "at_target/gap_acc": (None, "proportion", "target"),
    "time/fit_s": ("lower", "s", "run"),
    "time/total_s": ("lower", "s", "run"),
    "time/step_ms": ("lower", "ms", "run"),
    "time/samples_per_s": ("higher", "samples/s", "run"),
    "time/steps": (None, "steps", "run"),
    "time/epochs": (None, "epochs", "run"),
    "params/total": (None, "parameters", "run"),
    "nonfinite/step": (None, "step", "run"),
}
_PREFIXES = {
    "invariance/": ("higher", "proportion", "best"),  # accuracy on transformed test images
    "critical/": (None, "", "final"),  # spectra at a critical point: descriptive
    "probe/": (None, "", "final"),
}


def metric(name: str) -> Metric:
    """The registry's entry for `name`; an unknown metric has no direction."""
    if name in _EXACT:
        return Metric(name, *_EXACT[name])
    for prefix, entry in _PREFIXES.items():
        if name.startswith(prefix):
            return Metric(name, *entry)
    return Metric(name, None, "", "run")


# the metrics every report tabulates beside a preset's own (`report.metrics`)
DEFAULT_METRICS = (
    "test/acc",
    "test_last/acc",
    "test/loss",
    "train_eval/loss",
    "train_eval_best/loss",
    "gap/acc",
    "val/acc_best",
    "time/fit_s",
    "time/samples_per_s",
    "time/step_ms",
    "params/total",
)
