"""What a file may name: a checkpoint or a run folder's config is data, never a script.

A checkpoint's `hyper_parameters` and a run folder's `config_resolved.yaml` are plain dicts that
the lab instantiates (`_target_` + arguments). Before anything is instantiated, every `_target_`
in them, at any depth (dicts, lists, `_args_`, `_partial_` and other internal keys' values), must
be EXACTLY one of the `_target_` values that the command's own config sources name:

- every YAML under the lab's `conf/` and under the other config folders this command composes
  from (`hydra.searchpath`, or `-cp`): a part a user adds as a YAML and a class keeps training,
  and its checkpoints load through this same check;
- the command line itself (`model.backbone._target_=my.Backbone`): what the user types is theirs.

Nothing else is built: not a prefix (`biaslab.losses.torch.load` walks from an allowed module
to any attribute), not a pickle (files are read with `weights_only=True`), not a file copy.
The train path needs no exemption: its config is composed from those same sources.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"  # the lab's own config groups
# Hydra's config sources that are the user's own (the main config dir, -cp/-cd, hydra.searchpath)
USER_PROVIDERS = ("main", "command-line", "hydra.searchpath")


def _hydra() -> Any:
    """This process's Hydra config, or None (Hydra not even imported: no command composed)."""
    if "hydra.core.hydra_config" not in sys.modules:
        return None
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def config_dirs() -> tuple[str, ...]:
    """The lab's conf/ and the user's config sources of this command (`file://` folders and
    `pkg://` packages Hydra composes from), as `file:<path>` / `pkg:<module>` strings."""
    found = [f"file:{CONF}"]
    hc = _hydra()
    for source in (hc.runtime.config_sources if hc is not None else []) or []:
        if not str(source.provider).startswith(USER_PROVIDERS) or not source.path:
            continue
        if source.schema in ("file", "pkg"):
            found.append(f"{source.schema}:{source.path}")
    return tuple(dict.fromkeys(found))


def command_overrides() -> tuple[str, ...]:
    """This job's command-line overrides (empty outside Hydra)."""
    hc = _hydra()
    return tuple(hc.overrides.task) if hc is not None else ()


def _yaml_files(where: str) -> Iterator[str]:
    """The text of every YAML file in one config source."""
    schema, _, path = where.partition(":")
    if schema == "file":
        folder = Path(path)
        files = sorted(folder.rglob("*.yaml")) + sorted(folder.rglob("*.yml"))
        for file in files if folder.is_dir() else []:
            try:
                yield file.read_text()
            except (OSError, UnicodeDecodeError):
                continue
        return
    import importlib.resources

    package, _, sub = path.replace("/", ".").partition(".")
    try:
        root = importlib.resources.files(package).joinpath(*filter(None, sub.split(".")))
    except (ImportError, TypeError, ValueError):
        return
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_dir():
            stack.extend(node.iterdir())
        elif node.name.endswith((".yaml", ".yml")):
            yield node.read_text()


@functools.lru_cache(maxsize=16)
def conf_targets(dirs: tuple[str, ...]) -> frozenset[str]:
    """Every string `_target_` named in the YAML files of `dirs`."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found: set[str] = set()
    for where in dirs:
        for text in _yaml_files(where):
            if "_target_" not in text:
                continue
            try:
                node = yaml.load(text, Loader=loader)  # a safe loader: no tags, no objects
            except yaml.YAMLError:
                continue
            found.update(t for _, t in walk_targets(node) if isinstance(t, str))
    return frozenset(t for t in found if "${" not in t)


@functools.lru_cache(maxsize=64)
def command_targets(overrides: tuple[str, ...]) -> frozenset[str]:
    """The `_target_` values the command line names: `a.b._target_=x`, or inside a dict or list
    value (`model.backbone={_target_: x, ...}`)."""
    found: set[str] = set()
    overrides = tuple(o for o in overrides if "_target_" in o)
    if not overrides:
        return frozenset(found)
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for text in overrides:
        try:
            override = parser.parse_override(text)
            values = list(override.sweep_iterator()) if override.is_sweep_override() else []
            values = values or [override.value()]
        except Exception:  # not Hydra syntax: Hydra itself refused it already
            continue
        for value in values:
            if override.key_or_group.split(".")[-1] == "_target_":
                value = {"_target_": value}
            found.update(t for _, t in walk_targets(value) if isinstance(t, str))
    return frozenset(found)


def allowed_targets() -> frozenset[str]:
    """The exact `_target_` strings this command may build from a file."""
    return conf_targets(config_dirs()) | command_targets(command_overrides())


def walk_targets(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(key path, value) of every `_target_` at any depth of `node`: dicts, lists, and the values
    of internal keys (`_args_`, `_partial_`, ...) too, since Hydra instantiates inside them."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield (f"{path}._target_" if path else "_target_"), node["_target_"]
        for key, value in node.items():
            yield from walk_targets(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from walk_targets(value, f"{path}[{i}]")


def check_targets(node: Any, source: str) -> None:
    """Refuse, in one sentence, the first `_target_` in `node` that is not on the allow-list;
    call it before anything in `node` is instantiated."""
    allowed: frozenset[str] | None = None
    for path, target in walk_targets(node):
        allowed = allowed_targets() if allowed is None else allowed
        if not isinstance(target, str) or target not in allowed:
            raise ConfigError(
                f"{path}={target!r} in {source} is not a class the lab's configs name, so it "
                "was refused before anything was instantiated; use a file written by biaslab, "
                "or, if you trust this class, add a YAML naming it to a config group (conf/ or "
                "a hydra.searchpath folder)."
            )


def check_parts(parts: dict[str, Any], source: str = "the config") -> None:
    """A model's parts (backbone, pooling, head, loss, optimizer, scheduler: a checkpoint's
    hparams or the composed config's) checked with `check_targets`."""
    check_targets(parts, source)
