"""An install without an extra: `hydra/launcher=joblib`, `hydra/launcher=slurm`,
`hparams_search=optuna` and `logger=tensorboard` each stop with one sentence naming the extra
and its install command (exit 2), and `requirements.lock` is a file pip takes as constraints.

The extra is made "not installed" without touching the shared venv: the subprocess runs the
venv's own interpreter, whose `sitecustomize.py` (first on PYTHONPATH) swaps the venv's
site-packages for a copy made of symlinks that leaves out every file the extra's distributions
installed (their RECORD, read through importlib.metadata). This is faithful where an import
blocker would not be: Hydra finds launchers by walking the `hydra_plugins` namespace's folders
on sys.path, so the plugin's folder must be absent, not just unimportable (a failing import is
reported by Hydra as a broken plugin, with another message); `importlib.metadata` and Lightning's
own requirement checks see no distribution; the `.pth` files still run, so biaslab's editable
install is there. Checked against a real venv with only hydra-core in it (the sweeps cases gave
the same sentences; docs/reliability.md).
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import FAST, ROOT, missing_extras

EXTRAS = {  # the extra -> the distributions pyproject.toml lists in it
    "sweeps": ("hydra-joblib-launcher", "hydra-submitit-launcher", "optuna", "sqlalchemy"),
    "tensorboard": ("tensorboard", "tensorboard-data-server"),
}
NAMESPACES = {"hydra_plugins"}  # shared by several distributions: hidden one level down


def site_packages() -> Path:
    return Path(next(p for p in site.getsitepackages() if Path(p).name == "site-packages"))


def hidden_entries(extra: str) -> set[tuple[str, ...]]:
    """The site-packages entries (top level, or one level down in a namespace package) that
    the extra's installed distributions wrote; none for a distribution not installed."""
    hide: set[tuple[str, ...]] = set()
    for name in EXTRAS[extra]:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        for parts in (Path(f).parts for f in files):
            if parts and parts[0] != "..":  # console scripts live in bin/, outside
                hide.add(parts[:2] if parts[0] in NAMESPACES else parts[:1])
    return hide


def without(extra: str, root: Path) -> dict[str, str]:
    """The environment of a subprocess that runs this interpreter as if `extra` had never been
    installed (see the module's docstring)."""
    real, shadow, boot = site_packages(), root / "site-packages", root / "boot"
    hide = hidden_entries(extra)
    shadow.mkdir(parents=True)
    for entry in real.iterdir():
        if (entry.name,) in hide:
            continue
        if entry.name not in NAMESPACES:
            (shadow / entry.name).symlink_to(entry)
            continue
        (shadow / entry.name).mkdir()
        for sub in entry.iterdir():
            if (entry.name, sub.name) not in hide:
                (shadow / entry.name / sub.name).symlink_to(sub)
    boot.mkdir()
    (boot / "sitecustomize.py").write_text(
        "import site, sys\n"
        f"i = sys.path.index({str(real)!r})\n"
        "before = sys.path[:i] + sys.path[i + 1 :]\n"
        "sys.path[:] = before\n"
        f"site.addsitedir({str(shadow)!r})  # runs its .pth files: biaslab's editable install\n"
        "sys.path[:] = before[:i] + [p for p in sys.path if p not in before] + before[i:]\n"
    )
    env = {**os.environ, "PYTHONPATH": str(boot), "WANDB_MODE": "offline"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


@pytest.fixture(scope="module")
def env_without(tmp_path_factory):
    made: dict[str, dict[str, str]] = {}

    def get(extra: str) -> dict[str, str]:
        if extra not in made:
            made[extra] = without(extra, tmp_path_factory.mktemp(f"without_{extra}"))
        return made[extra]

    return get


def run(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**env, "BIASLAB_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )


# id (no extra's name in it: conftest skips tests named after an extra the install lacks, and
# these need the extra absent, not present) -> (extra, command line, what the sentence names)
CASES = {
    "parallel_launcher": (
        "sweeps",
        ["-m", "hydra/launcher=joblib", "seed=0,1"],
        "hydra/launcher=joblib",
    ),
    "cluster_launcher": (
        "sweeps",
        ["-m", "hydra/launcher=slurm", "seed=0"],
        "hydra/launcher=slurm",
    ),
    "hparams_sweeper": ("sweeps", ["-m", "hparams_search=optuna"], "hparams_search=optuna"),
    "event_file_logger": (
        "tensorboard",
        [*(o for o in FAST if not o.startswith("logger=")), "logger=tensorboard"],
        "logger=tensorboard",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_missing_extra_is_one_sentence_naming_it(case, env_without, tmp_path):
    extra, args, names = CASES[case]
    done = run(env_without(extra), tmp_path, "src/train.py", *args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
    assert names in line and f"the {extra} extra, which is not installed" in line, line
    assert f"pip install -c requirements.lock -e '.[{extra}]'" in line, line
    assert line.endswith(".") and ". " not in line  # one sentence
    assert not list(tmp_path.rglob("*.ckpt"))  # nothing trained


@pytest.mark.parametrize(
    ("extra", "module"),
    [("sweeps", "hydra_plugins.hydra_joblib_launcher"), ("tensorboard", "tensorboard")],
)
def test_the_stand_in_hides_exactly_the_extra(extra, module, env_without, tmp_path):
    """Without the extra its module is gone and Hydra's plugin scan does not see it; with the
    venv as it is, both are there (so the sentences above come from the missing extra)."""
    probe = (
        "import importlib.util as u\n"
        "from hydra.core.plugins import Plugins\n"
        "from hydra.plugins.launcher import Launcher\n"
        "names = [p.__name__ for p in Plugins.instance().discover(Launcher)]\n"
        f"print(u.find_spec({module!r}) is not None, 'JoblibLauncher' in names,"
        " u.find_spec('biaslab') is not None, u.find_spec('torch') is not None)\n"
    )
    hidden = run(env_without(extra), tmp_path, "-c", probe)
    assert hidden.returncode == 0, hidden.stderr[-2000:]
    joblib_hidden = extra == "sweeps"
    assert hidden.stdout.split() == ["False", str(not joblib_hidden), "True", "True"]
    if extra in missing_extras():
        pytest.skip(f"this install lacks the {extra} extra itself")
    plain = run({**os.environ}, tmp_path, "-c", probe)
    assert plain.stdout.split() == ["True"] * 4, plain.stderr[-2000:]


def test_the_lock_is_a_constraints_file_and_the_readme_installs_through_it():
    """pip refuses constraints with extras, URLs or editables; every line of the lock must pin
    one name to one version (what `pip install -c requirements.lock -e .` reads)."""
    lines = [ln.strip() for ln in (ROOT / "requirements.lock").read_text().splitlines()]
    pins = [ln for ln in lines if ln and not ln.startswith("#")]
    bad = [
        ln for ln in pins if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+", ln)
    ]
    assert pins and not bad, bad
    readme = (ROOT / "README.md").read_text()
    installs = re.findall(r"`(pip install [^`]*)`", readme)
    assert installs and all("-c requirements.lock" in cmd for cmd in installs), installs
