"""Errors keyed where configs are built: each config node is instantiated at a known key (its
place in NODE_KEYS), so a part's error is said with that key and its fix. Which key is found
from the error's origin, never from another library's message text:
- the part that raised: the innermost frame of the traceback whose `self` is an instance of a
  node's `_target_` class (a backbone's `heads=0 ...` becomes `model.backbone.heads=0 ...`);
- an option a part does not take: the node's keys against its target's signature;
- a value torch's optimizer or Lightning's Trainer refuses: each key the node sets, tried alone
  (the first refused on its own is the one named).
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig, OmegaConf

from biaslab.errors import ConfigError

NODE_KEYS = (
    "data",
    "model.backbone",
    "pe",
    "pooling",
    "head",
    "loss",
    "optimizer",
    "scheduler",
    "augment.batch",
    "augment.mix",
)
GROUPS = {"data", "model", "pe", "pooling", "head", "loss", "optimizer", "scheduler", "augment"}
META = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def with_key(message: str, key: str) -> str:
    """`heads=3 must ...` raised by the part at `key` -> `model.backbone.heads=3 must ...`
    (the lab's own parts start their sentences with their argument: `name=value` or `name:`)."""
    head = message.split("=", 1)[0].split(":", 1)[0]
    if head == message or not head.isidentifier() or head in GROUPS:
        return message
    return message if message.startswith(f"{key}.") else f"{key}.{message}"


def _target(cfg: DictConfig, key: str) -> Any:
    """The class or function a node's `_target_` names, or None."""
    from hydra.utils import get_object

    name = OmegaConf.select(cfg, f"{key}._target_", default=None)
    try:
        return get_object(name) if isinstance(name, str) else None
    except Exception:  # an unloadable target is Hydra's to report
        return None


def raised_by(cfg: DictConfig, err: BaseException) -> str | None:
    """The key of the node whose part raised `err` (the innermost frame whose `self` is an
    instance of that node's class), or None."""
    classes = {k: c for k in NODE_KEYS if isinstance(c := _target(cfg, k), type)}
    found, tb = None, err.__traceback__
    while tb is not None:
        me = tb.tb_frame.f_locals.get("self")
        found = next((k for k, c in classes.items() if isinstance(me, c)), found)
        tb = tb.tb_next
    return found


def unknown_option(cfg: DictConfig) -> str | None:
    """One sentence for the first node that sets a key its target's signature does not take."""
    for key in NODE_KEYS:
        node, target = OmegaConf.select(cfg, key, default=None), _target(cfg, key)
        if not isinstance(node, DictConfig) or target is None:
            continue
        params = taken(target)
        if params is None:
            continue
        for name in node:
            if name not in META and name not in params:
                return (
                    f"{key}.{name} is not an option of {node._target_}; "
                    "remove it or fix its spelling."
                )
    return None


def taken(target: Any) -> set[str] | None:
    """The argument names `target` takes; a class whose `__init__` passes `**kwargs` up takes
    its bases' too (None: any name, or no signature to read)."""
    names: set[str] = set()
    for owner in target.__mro__ if isinstance(target, type) else (target,):
        init = owner.__init__ if isinstance(target, type) else owner
        if isinstance(target, type) and "__init__" not in vars(owner):
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        names.update(
            n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return names
    return None


@contextmanager
def explained(cfg: DictConfig, key: str | None = None) -> Iterator[None]:
    """Turn a part's constructor error into a ConfigError that names the config key (`key`: the
    node instantiated here; a part built inside it is found by `raised_by`): its own sentence
    for a ValueError, the key and the fix for an unknown or missing argument."""
    from hydra.errors import InstantiationException

    try:
        yield
    except ConfigError:
        raise
    except InstantiationException as err:
        inner = err
        while isinstance(inner.__cause__, InstantiationException):
            inner = inner.__cause__
        cause = inner.__cause__
        if isinstance(cause, ConfigError):
            raise cause from err
        where = (raised_by(cfg, cause) if cause is not None else None) or key
        if isinstance(cause, TypeError):
            sentence = unknown_option(cfg)
            if sentence:
                raise ConfigError(sentence) from err
            node = where or "a config node"
            raise ConfigError(f"{node}: {cause}; check that node's keys.") from err
        if isinstance(cause, ValueError) and where in NODE_KEYS:
            raise ConfigError(with_key(str(cause), where)) from err
        raise ConfigError(str(cause or err)) from err
    except ValueError as err:
        raise ConfigError(str(err)) from err


def refused_alone(build: Callable[..., Any], node: dict[str, Any]) -> str | None:
    """The first key of `node` that `build(**{key: value})` refuses on its own, or None (a
    refusal of two keys together). Quiet: the tries log nothing."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, value in node.items():
                try:
                    build(**{name: value})
                except Exception:
                    return name
    finally:
        logging.disable(logging.NOTSET)
    return None


@contextmanager
def explained_optimizer(cfg: DictConfig) -> Iterator[None]:
    """torch's optimizers check their arguments: name the key that is refused on its own."""
    import torch

    try:
        yield
    except (ValueError, TypeError) as err:
        cause = err.__cause__ or err
        node = OmegaConf.to_container(cfg.optimizer, resolve=True)
        target = _target(cfg, "optimizer")
        args = {k: v for k, v in node.items() if k not in META}
        weight = torch.nn.Parameter(torch.zeros(1))
        arg = refused_alone(lambda **kw: target([weight], **kw), args) if target else None
        if arg is None:
            raise ConfigError(f"optimizer: {cause}; fix the optimizer.* key it names.") from err
        raise ConfigError(
            f"optimizer.{arg}={args[arg]} is refused by the optimizer ({cause}); "
            f"pass a valid optimizer.{arg} (a learning rate must be > 0)."
        ) from err
