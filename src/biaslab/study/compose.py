"""A preset's name, its composed config and its typed declaration, checked before anything
runs, moves or is written: the name is a preset of conf/experiment (never a path), the
overrides are no sweeps, Hydra's composition errors are the lab's one sentence, and the
`Preset` is built once from the composed config (the preset's YAML with the command's
overrides), so every declared baseline and comparison is checked against the arms here."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError
from biaslab.study.plan import experiment
from biaslab.study.spec import Preset

ROOT = Path(__file__).resolve().parents[3]
DECLARED = ("claim", "report", "tune", "arms", "protocol", "exclusive")  # what Preset reads


def preset_config(name: str, extra: list[str], root: Path = ROOT):
    """The composed config of preset `name` (with Hydra's own node), from `root`/conf."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import biaslab.utils.resolvers  # noqa: F401

    check_preset_name(name, root)
    said(lambda: yaml_of(root / "conf" / "experiment" / f"{name}.yaml"))
    refuse_sweeps(extra)
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(root / "conf"), version_base="1.3"):
        return said(
            lambda: compose("train", overrides=[experiment(name), *extra], return_hydra_config=True)
        )


def preset_of(name: str, cfg, root: Path = ROOT) -> Preset:
    """The typed declaration of a composed preset config: built and checked once; every error
    one sentence naming the preset's file."""
    from omegaconf import OmegaConf

    node = {k: _plain(cfg[k]) for k in DECLARED if k in cfg}
    params = OmegaConf.select(cfg, "hydra.sweeper.params")
    params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
    node["hydra"] = {"sweeper": {"params": {str(k): v for k, v in params.items()}}}
    source = root / "conf" / "experiment" / f"{name}.yaml"
    return Preset.from_dict(name, node, str(source.relative_to(root)))


def _plain(value: Any) -> Any:
    """A config node as plain Python (resolved), a scalar as it is."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def said(compose: Any) -> Any:
    """`compose()`, with Hydra's composition error said as the lab's one sentence (the option
    and the options there are), as src/train.py says it."""
    import yaml
    from hydra.errors import ConfigCompositionException, OverrideParseException

    from biaslab.run.cli import one_sentence

    try:
        return compose()
    except (ConfigCompositionException, OverrideParseException) as err:
        raise ConfigError(one_sentence(str(err))) from err
    except yaml.YAMLError as err:  # a malformed file in conf/: Hydra passes YAML's own error
        mark = getattr(err, "problem_mark", None)
        file = getattr(err, "file", None) or "a config file the command composes"
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{file} is malformed YAML ({problem}{at}); fix that file.") from err


def yaml_of(path: Path) -> Any:
    """The YAML in `path` (a YAMLError names the file, for `said`)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        err.file = path
        raise


def refuse_sweeps(extra: list[str]) -> None:
    """A preset sweeps itself (its `hydra.sweeper.params`); an override that is a sweep
    (`seed=0,1`, `...=range(2)` unquoted) is refused with the quoted form that sets it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for text in extra:
        try:
            (override,) = parser.parse_overrides([text])
        except OverrideParseException:
            continue  # compose says what is wrong with it
        if override.is_sweep_override():
            key = override.get_key_element()
            swept = (
                key if key.startswith("hydra.sweeper.params.") else f"hydra.sweeper.params.{key}"
            )
            raise ConfigError(
                f"{text} is a sweep, and a preset sweeps its own arms and seeds; to set what it "
                f"sweeps, quote the values: {swept}='{text.split('=', 1)[1]}'."
            )


def preset_dir(name: str) -> Path:
    """Where a preset's runs go: logs/presets/NAME under $BIASLAB_ROOT, else the repository
    (NAME checked: a preset of conf/experiment, so the folder stays in logs/presets)."""
    from biaslab.run.paths import check_inside

    check_preset_name(name)
    root = Path(os.environ.get("BIASLAB_ROOT") or ROOT) / "logs" / "presets"
    return check_inside(root / name, root, f"the preset name {name!r}")


def preset_names(root: Path = ROOT) -> list[str]:
    """The presets: the file stems of root/conf/experiment/*.yaml."""
    return sorted(p.stem for p in (root / "conf" / "experiment").glob("*.yaml"))


def check_preset_name(name: str, root: Path = ROOT) -> str:
    """`name` exactly as a preset's file stem in root/conf/experiment (not empty, no `/` or
    `..`), or one sentence: checked before anything is composed, written, moved or deleted."""
    from biaslab.run.paths import plain_name

    names = preset_names(root)
    hint = f"choose one of {', '.join(names)} (run_preset.py --list)"
    plain_name(name, "the preset name", hint)
    if name not in names:
        raise ConfigError(f"{name!r} is not a preset of {root / 'conf' / 'experiment'}; {hint}.")
    return name


def declaration_hash(claim: Any) -> str | None:
    """A short hash of a preset's declaration (`claim:`), recorded with its runs."""
    if claim is None:
        return None
    return hashlib.sha256(json.dumps(claim, sort_keys=True).encode()).hexdigest()[:12]


def check_declaration(name: str, out: Path, claim: Any, protocol: int = 1) -> None:
    """Refuse to add runs under a changed declaration, or another protocol, to runs made under
    another one (each run's config holds the `claim:` and `protocol` it was made under): the
    preset is re-run whole."""
    from biaslab.run.files import find_runs

    for run in find_runs(out)[:1] if out.exists() else []:
        config = run.read_config()
        before = config.get("claim")
        if before != claim:
            raise ConfigError(
                f"{out} holds runs of {name} made under another declaration (claim "
                f"{declaration_hash(before)}, now {declaration_hash(claim)}); re-run the preset "
                "whole: pass --fresh (it moves those runs aside) or another out dir."
            )
        if (config.get("protocol") or 1) != protocol:
            raise ConfigError(
                f"{out} holds runs of {name} made under protocol {config.get('protocol') or 1}, "
                f"now {protocol}; one page holds one protocol's runs: pass --fresh (it moves "
                "those runs aside, kept as a pilot) or another out dir."
            )


def machine() -> str:
    """This machine in words, with the GPU's name where one is visible."""
    import torch

    words = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    return words + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
