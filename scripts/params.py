"""Per-layer and total parameters of any model config at any input shape, with no data loaded.

    python scripts/params.py model=vit data.input_shape=[3,32,32]
    python scripts/params.py model=fc pooling=flatten data.input_shape=[3,100,100]
    python scripts/params.py --lecture       # the lecture's dense-vs-conv arithmetic
    python scripts/params.py --match 100000 --key model.backbone.dim --multiple 8 model=vit
        # the width that puts a model within ±10 % of a parameter count (fair family comparisons)

Overrides are Hydra overrides of conf/train.yaml.
"""

from __future__ import annotations

import sys

from biaslab.errors import ConfigError
from biaslab.models.params import lecture_rows
from biaslab.run.checks import exit_with_one_sentence
from biaslab.run.model_params import match_width, model_rows


def _option(argv: list[str], name: str, default: str | None = None) -> str | None:
    if name not in argv:
        return default
    i = argv.index(name)
    if i + 1 >= len(argv):
        raise ConfigError(f"{name} needs a value, e.g. {name} {default or 100000}.")
    value = argv[i + 1]
    del argv[i : i + 2]
    return value


def _count(name: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name} {text} must be a whole number >= 1, e.g. {name} 100000.")
    return int(text)


def main(argv: list[str]) -> None:
    """Bad input (an option without its value, an unknown key or option): one sentence, exit 2."""
    from biaslab.presets import said

    exit_with_one_sentence(lambda: said(lambda: _main(argv)))


def _main(argv: list[str]) -> None:
    target = _option(argv, "--match")
    if target is not None:
        key = _option(argv, "--key", "model.backbone.dim")
        multiple = _count("--multiple", _option(argv, "--multiple", "1"))
        width, params = match_width(argv, key, _count("--match", target), multiple)
        off = params / int(target) - 1
        print(f"{key}={width}  params={params:,d}  ({off:+.1%} of {int(target):,d})")
        if abs(off) > 0.10:
            sys.exit(f"no {key} within ±10 % of {int(target):,d} parameters; change another size.")
        return
    unknown = [a for a in argv if a.startswith("-") and a != "--lecture"]
    if unknown:
        raise ConfigError(
            f"{unknown[0]} is not an option of params.py: it takes --lecture, --match N "
            "[--key KEY] [--multiple M] and Hydra overrides (key=value)."
        )
    if "--lecture" in argv:
        print(f"{'layer':45s} {'weights':>15s} {'biases':>10s} {'total':>15s}")
        for name, w, b in lecture_rows():
            print(f"{name:45s} {w:>15,d} {b:>10,d} {w + b:>15,d}")
        return
    rows, shape = model_rows(argv)
    print(f"input_shape={shape}")
    print(f"{'module':40s} {'type':22s} {'weights':>12s} {'biases':>9s}")
    for name, kind, w, b in rows:
        print(f"{name:40s} {kind:22s} {w:>12,d} {b:>9,d}")
    total = sum(w + b for *_, w, b in rows)
    print(f"{'total':63s} {total:>22,d}")


if __name__ == "__main__":
    main(sys.argv[1:])
