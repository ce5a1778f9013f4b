"""What a model's stored config may name: a checkpoint is data, never a script.

A checkpoint's `hyper_parameters` are plain dicts that `Classifier` instantiates (`_target_`
+ arguments). Before anything is instantiated, every `_target_` in them is checked against the
lab's own schema: each part of the model may name only classes of its own kind, from the lab's
modules or the allow-listed torch ones. A checkpoint edited to name anything else (a file copy,
a shell call) is refused in one sentence.
"""

from __future__ import annotations

from typing import Any

from biaslab.errors import ConfigError

TORCH_OPTIMIZERS = {
    f"torch.optim.{n}"
    for n in ("SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adamax", "NAdam", "RAdam", "Adadelta")
}
TORCH_LOSSES = {"torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss", "torch.nn.MSELoss"}
ALLOWED: dict[str, tuple[tuple[str, ...], set[str]]] = {
    # part: (module prefixes of the lab's own classes, exact torch targets)
    "backbone": (("biaslab.models.",), set()),
    "pooling": (("biaslab.models.pooling.",), set()),
    "head": (("biaslab.models.heads.",), set()),
    "loss": (("biaslab.losses.",), TORCH_LOSSES),
    "optimizer": ((), TORCH_OPTIMIZERS),
    "scheduler": (("biaslab.optim.",), set()),
}
INTERNAL_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")


def _targets(node: Any, path: str):
    """(key path, target) of every `_target_` inside `node`."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield path, node["_target_"]
        for key, value in node.items():
            if key not in INTERNAL_KEYS:
                yield from _targets(value, f"{path}.{key}")
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _targets(value, f"{path}[{i}]")


def check_parts(parts: dict[str, Any], source: str = "the config") -> None:
    """Refuse any `_target_` in the model's parts that the schema does not allow."""
    for part, (prefixes, exact) in ALLOWED.items():
        for path, target in _targets(parts.get(part), part):
            nested_ok = (
                path != part and isinstance(target, str) and target.startswith("biaslab.models.")
            )
            allowed = isinstance(target, str) and (target.startswith(prefixes) or target in exact)
            if not (allowed or nested_ok):
                raise ConfigError(
                    f"{path}._target_={target!r} in {source} is not a {part} the lab can build; "
                    "refused before anything was instantiated (use a checkpoint written by biaslab)."
                )
