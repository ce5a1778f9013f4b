"""A config group as the registry of its parts: {option: `_target_`} of `conf/<group>/*.yaml`,
read from the config folders this command composes from (the lab's `conf/` and the user's
`hydra.searchpath` folders: `biaslab.schema.config_dirs`). A part is found by its file there,
never by a list in code, so a sentence that offers the options that fit names a new one too."""

from __future__ import annotations

from pathlib import Path

from biaslab.schema import config_dirs


def group_targets(group: str, key: str = "_target_") -> dict[str, str]:
    """{option: the `_target_` at `key` (dotted)} for the options of `group` that name one."""
    import yaml

    found: dict[str, str] = {}
    for where in config_dirs():
        schema, _, path = where.partition(":")
        folder = Path(path) / group
        if schema != "file" or not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.yaml")):
            try:
                node = yaml.safe_load(file.read_text()) or {}
            except (OSError, yaml.YAMLError):
                continue
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, str) and "${" not in node:
                found.setdefault(file.stem, node)
    return found


def option_of(group: str, target: str, default: str) -> str:
    """The option of `group` that builds `target` (`pooling=mean`), else `default`."""
    return next((o for o, t in group_targets(group).items() if t == target), default)


def classes(group: str, key: str = "_target_") -> dict[str, type]:
    """{option: class} for the options of `group` whose target imports (others left out)."""
    from hydra.utils import get_class

    found = {}
    for option, target in group_targets(group, key).items():
        try:
            found[option] = get_class(target)
        except Exception:  # a broken user file: its own command says why
            continue
    return found
