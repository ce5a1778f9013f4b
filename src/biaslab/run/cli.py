"""Hydra's own errors (composition, override syntax), said as the lab says bad input: one
sentence on stderr, exit code 2. Hydra prints its message and exits 1 before the task starts;
until the task starts, stderr is held back, and such an exit is rewritten as one sentence
(HYDRA_FULL_ERROR=1: Hydra's own output, untouched)."""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable
from typing import Any


class _HeldStderr(io.TextIOBase):
    """Holds what is written until `release()`, then passes every write through."""

    def __init__(self, real: Any) -> None:
        self.real, self.held, self.released = real, [], False

    def write(self, text: str) -> int:
        if self.released:
            return self.real.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        if self.released:
            self.real.flush()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.real.write("".join(self.held))
            self.held.clear()

    def fileno(self) -> int:
        return self.real.fileno()

    def isatty(self) -> bool:
        return self.real.isatty()


_stderr: _HeldStderr | None = None


def task_started() -> None:
    """Called first by the task function: Hydra composed the config; stderr flows again."""
    global _stderr
    if _stderr is not None:
        _stderr.release()
        sys.stderr = _stderr.real
        _stderr = None


def one_sentence(text: str) -> str:
    """Hydra's message as one sentence naming the key and the fix."""
    found = re.search(r"Could not find '([^'/]+)/([^']+)'", text)
    if found:
        group, option = found.groups()
        options = re.findall(r"^\t(\S+)$", text, re.M)
        choose = f"choose one of {', '.join(options)}" if options else f"see --help for {group}"
        return f"{group}={option} is not an option of {group}; {choose}."
    found = re.search(r"Could not override '([^']+)'", text)
    if found:
        key = found.group(1)
        return f"{key} is not a config key; fix its spelling (python src/train.py --cfg job lists the keys)."
    found = re.search(r"no viable alternative at input '([^']*)'|mismatched input '([^']*)'", text)
    if found:
        return (
            f"an override is not Hydra syntax (near {found.group(1) or found.group(2)!r}); "
            "quote lists and strings as in 'data.fractions=[0.7,0.15,0.15]'."
        )
    if 'Could not detect "srun"' in text:  # submitit's SLURM executor, off a cluster
        return (
            'hydra/launcher=slurm needs SLURM, and submitit could not detect "srun" on this '
            "machine; submit from a SLURM login node, or use hydra/launcher=submitit_local here."
        )
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "HYDRA_FULL_ERROR" not in ln]
    first = (lines[0] if lines else "Hydra could not compose the config").rstrip(".")
    return f"{first}; see python src/train.py --help."


def run(main: Callable[[], Any]) -> None:
    """Run a `@hydra.main` function with Hydra's composition errors said in one sentence."""
    global _stderr
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        main()
        return
    _stderr = _HeldStderr(sys.stderr)
    sys.stderr = _stderr
    try:
        main()
    except SystemExit as stop:
        held = _stderr
        if held is not None and not held.released and stop.code == 1:
            sys.stderr = held.real
            text, held.held = "".join(held.held), []  # Hydra's own text: said as one sentence
            print(f"Error: {one_sentence(text)}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        raise
    finally:
        task_started()
