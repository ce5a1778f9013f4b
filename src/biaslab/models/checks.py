"""Argument checks every part shares. A part names its own arguments (`heads=0 ...`); the config
layer (`biaslab.run.build.explained`) adds the key path (`model.backbone.heads=0 ...`)."""

from __future__ import annotations


def check_sizes(**sizes: int) -> None:
    """Each size must be a positive integer: `heads=0 must be a positive integer; ...`."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value} must be a positive integer; pass {name}=4.")


def check_rates(**rates: float) -> None:
    """Each rate (dropout, drop path) must lie in [0, 1)."""
    for name, value in rates.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name}={value} must lie in [0, 1); pass {name}=0.1.")
