"""Hydra's own errors (composition, override syntax), said as the lab says bad input: one
sentence on stderr, exit code 2. Hydra prints its message and exits 1 before the task starts;
until the task starts, stderr is held back, and such an exit is rewritten as one sentence
(HYDRA_FULL_ERROR=1: Hydra's own output, untouched). The sentence is read from the exception
Hydra caught (the exit's `__context__`): its type and fields name the key, never its text."""

from __future__ import annotations

import io
import os
import shutil
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
# register their launchers' configs) or a module it cannot import: the extra, by the missing
# config file or the missing module's name (the exceptions' own fields, not their text).
EXTRA_OF_CONFIG = {
    "hydra/launcher/joblib": "sweeps",
    "hydra/launcher/submitit_local": "sweeps",
    "hydra/launcher/submitit_slurm": "sweeps",
    "hydra/sweeper/optuna": "sweeps",
}
EXTRA_OF_MODULE = {"optuna": "sweeps", "hydra_plugins": "sweeps"}
NEEDS = {
    "joblib": "hydra/launcher=joblib (Hydra's joblib launcher)",
    "submitit_local": "hydra/launcher=submitit_local (Hydra's submitit launcher)",
    "submitit_slurm": "hydra/launcher=submitit_slurm (Hydra's submitit launcher)",
    "slurm": "hydra/launcher=slurm (Hydra's submitit launcher)",
    "optuna": "hparams_search=optuna (Optuna)",
}


def _chain(err: BaseException | None) -> list[BaseException]:
    """`err` and what caused it (`raise ... from`, or raised while handling), outermost first."""
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return seen


def chosen(group: str, argv: list[str]) -> str | None:
    """The option the command line picks for a config group (`hydra/launcher=slurm`)."""
    picked = [a.split("=", 1)[1] for a in argv if a.lstrip("+").startswith(f"{group}=")]
    return picked[-1] if picked else None


def missing_extra(err: BaseException | None, argv: list[str]) -> str | None:
    """Hydra's error about a launcher or sweeper whose install extra is missing, as one sentence
    naming the extra and its install command; None for any other error."""
    for cause in _chain(err):
        missing = getattr(cause, "missing_cfg_file", None)
        module = (getattr(cause, "name", None) or "").partition(".")[0]
        if missing in EXTRA_OF_CONFIG:
            extra, name = EXTRA_OF_CONFIG[missing], missing.rpartition("/")[2]
            if missing.startswith("hydra/launcher/"):  # slurm.yaml extends submitit_slurm
                name = chosen("hydra/launcher", argv) or name
        elif isinstance(cause, ImportError) and module in EXTRA_OF_MODULE:
            extra, name = EXTRA_OF_MODULE[module], "optuna"
        else:
            continue
        return (
            f"{NEEDS.get(name, name)} needs the {extra} extra, which is not installed; install it "
            f"with pip install -c requirements.lock -e '.[{extra}]'."
        )
    return None


def _raised_in(err: BaseException, package: str) -> bool:
    """Whether `err` was raised by code of `package` (its innermost frame's module)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith(package)


def one_sentence(
    said: BaseException | str, argv: list[str] | None = None, shown: str | None = None
) -> str:
    """Hydra's error as one sentence naming the key and the fix, from the exception's type and
    fields (Hydra's MissingConfigException, OverrideParseException, the OmegaConf key error
    behind a ConfigCompositionException); else the message's first line, as Hydra said it.
    Given a message's text, the exception being handled is read when that is its text (callers
    inside an `except` that pass `str(err)`). `argv`: the command line (default: this one's);
    `shown`: what Hydra printed, whose first line the fallback says."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    argv = sys.argv[1:] if argv is None else argv
    handled = sys.exc_info()[1]
    if isinstance(said, str):
        text, err = said, handled if handled is not None and str(handled) == said else None
    else:
        text, err = str(said), said
    text = text if shown is None else shown
    extra = missing_extra(err, argv)
    if extra:
        return extra
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        group, _, option = err.missing_cfg_file.rpartition("/")
        options = list(err.options or [])
        choose = f"choose one of {', '.join(options)}" if options else f"see --help for {group}"
        return f"{group}={option} is not an option of {group}; {choose}."
    if isinstance(err, ConfigCompositionException) and isinstance(
        err.__cause__, (ConfigKeyError, ConfigAttributeError)
    ):
        key = err.__cause__.full_key
        return f"{key} is not a config key; fix its spelling (python src/train.py --cfg job lists the keys)."
    if isinstance(err, OverrideParseException):
        return (
            f"an override is not Hydra syntax ({err.override!r}); "
            "quote lists and strings as in 'data.fractions=[0.7,0.15,0.15]'."
        )
    if isinstance(err, RuntimeError) and _raised_in(err, "submitit") and not shutil.which("srun"):
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
            text, held.held = "".join(held.held), []  # Hydra's error: said as one sentence
            caught = stop.__context__  # what Hydra's run_and_report caught before its exit(1)
            sentence = one_sentence(text if caught is None else caught, shown=text)
            print(f"Error: {sentence}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        raise
    finally:
        task_started()
