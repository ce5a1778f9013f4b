"""The keys a Hydra sweep varies, read from its sweep dir's multirun.yaml (a sweep's summary,
its W&B run names and the analysis's columns all read them)."""

from __future__ import annotations

from pathlib import Path

SWEEP_MARKERS = (",", "range(", "choice(", "interval(", "glob(")


def swept_keys(sweep_dir: Path) -> set[str]:
    """Keys the sweep varies: overrides with sweep syntax in multirun.yaml, plus the sweeper's
    search space (Optuna `params`)."""
    import yaml

    path = sweep_dir / "multirun.yaml"
    if not path.exists():
        return set()
    hydra_cfg = (yaml.safe_load(path.read_text()) or {}).get("hydra", {})
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    keys = set()
    for override in hydra_cfg.get("overrides", {}).get("task", []):
        try:
            parsed = parser.parse_override(override)
        except Exception:  # not Hydra syntax (a hand-edited file): fall back on the markers
            key, _, value = override.partition("=")
            if any(marker in value for marker in SWEEP_MARKERS):
                keys.add(key.lstrip("+~"))
            continue
        if parsed.is_sweep_override():  # a list `a,b`, range(), choice(), ... (not a dict literal)
            keys.add(parsed.key_or_group)
    keys.update((hydra_cfg.get("sweeper", {}).get("params") or {}).keys())
    return keys
