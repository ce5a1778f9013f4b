"""Feature layouts: what a backbone emits and what a pooling takes.

A backbone declares the one layout of its output (`emits`); a pooling declares the layouts it
reads (`takes`) and whether it needs a class token (`uses_class_token`). A pooling then fits
every backbone whose output it reads, and neither side keeps a list of the other's names: a new
pooling or backbone is new files only. A backbone offers a class token when its constructor
takes `class_token` (the net passes `class_token=True` for a pooling that uses one).
"""

from __future__ import annotations

import inspect

LAYOUTS = {
    "grid": "(B, C, H, W), a feature map",
    "tokens": "(B, N, C), positions in order",
    "set": "(B, N, C), positions without order (graph nodes)",
    "vector": "(B, 1, C), one feature vector",
}


def offers_class_token(body_cls: type) -> bool:
    """Whether the backbone can prepend a class token (its constructor takes `class_token`)."""
    return "class_token" in inspect.signature(body_cls).parameters


def takes(pool_cls: type) -> frozenset[str]:
    """The layouts a pooling class reads (its `takes`; none declared: none)."""
    return frozenset(getattr(pool_cls, "takes", ()) or ())


def fits(pool_cls: type, body_cls: type) -> bool:
    """Whether the pooling reads the backbone's output (and gets the class token it needs)."""
    if getattr(body_cls, "emits", None) not in takes(pool_cls):
        return False
    return not getattr(pool_cls, "uses_class_token", False) or offers_class_token(body_cls)


def describe_takes(pool_cls: type) -> str:
    """`tokens with a class token`, `grid, tokens or vector`: what a pooling reads, in words."""
    names = sorted(takes(pool_cls)) or ["no layout, as it declares no `takes`"]
    words = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return words + (" with a class token" if getattr(pool_cls, "uses_class_token", False) else "")
