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


# What an install extra brings that Hydra, without it, reports as a missing config (the plugins
# register their launchers' configs) or a target it cannot locate: (pattern, extra, what needs it).
EXTRA_NEEDED = (
    (r"Could not (?:find|load) 'hydra/launcher/(joblib|submitit_local|submitit_slurm)'", "sweeps"),
    (r"Error locating target '(optuna)\.|No module named '(optuna)'", "sweeps"),
)
NEEDS = {
    "joblib": "hydra/launcher=joblib (Hydra's joblib launcher)",
    "submitit_local": "hydra/launcher=submitit_local (Hydra's submitit launcher)",
    "submitit_slurm": "hydra/launcher=submitit_slurm (Hydra's submitit launcher)",
    "slurm": "hydra/launcher=slurm (Hydra's submitit launcher)",
    "optuna": "hparams_search=optuna (Optuna)",
}


def missing_extra(text: str) -> str | None:
    """Hydra's message about a launcher or sweeper whose install extra is missing, as one
    sentence naming the extra and its install command; None for any other message."""
    for pattern, extra in EXTRA_NEEDED:
        found = re.search(pattern, text)
        if found:
            within = re.search(r"In 'hydra/launcher/(\w+)'", text)  # slurm.yaml extends submitit
            name = within.group(1) if within else next(g for g in found.groups() if g)
            return (
                f"{NEEDS[name]} needs the {extra} extra, which is not installed; install it with "
                f"pip install -c requirements.lock -e '.[{extra}]'."
            )
    return None


def one_sentence(text: str) -> str:
    """Hydra's message as one sentence naming the key and the fix."""
    extra = missing_extra(text)
    if extra:
        return extra
    found = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
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
