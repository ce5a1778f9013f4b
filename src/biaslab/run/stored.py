"""What a file holds, read as data: a checkpoint (`weights_only=True`, every `_target_` of its
stored model config on the exact allow-list, its callbacks' paths inside their own folders) and a
run folder's saved config (YAML's safe loader, the same allow-list), checked before anything is
built; then whether a checkpoint fits the model and data it is used with."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from biaslab.errors import ConfigError, reason_of
from biaslab.run.files import RunDir


def read_checkpoint(path: str | Path, key: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint at `path`, loaded as data (`weights_only=True`: no pickled code runs), every
    `_target_` of its stored model config on the exact allow-list (`biaslab.schema`) and the
    checkpoint paths its callbacks name inside their own folder; or one sentence saying what is
    wrong. Every command that loads a checkpoint calls this before building anything."""
    import torch

    from biaslab.schema import check_targets

    if not Path(path).is_file():
        raise ConfigError(
            f"{key}={path} is not a file; pass the path of an existing .ckpt "
            "(or drop ckpt_path to start afresh)."
        )
    if not zipfile.is_zipfile(path):
        raise ConfigError(
            f"{key}={path} is not a checkpoint (not the zip archive torch.save writes, or cut "
            "short); pass a .ckpt written by biaslab, or drop ckpt_path."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # damaged, or pickled objects that are not plain data
        raise ConfigError(
            f"{key}={path} is not a readable checkpoint ({reason_of(err)}); pass a .ckpt written by "
            "biaslab, or drop ckpt_path."
        ) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{key}={path} holds no model weights; pass a .ckpt written by biaslab.")
    hparams = checkpoint.get("hyper_parameters") or {}
    if not isinstance(hparams, dict):
        raise ConfigError(f"{key}={path} holds no model config; pass a .ckpt written by biaslab.")
    check_targets(hparams, f"{key}={path}")  # the exact allow-list, at any depth
    check_callback_paths(checkpoint, f"{key}={path}")
    return checkpoint


def check_fits(checkpoint: dict[str, Any], module: Any, key: str = "ckpt_path") -> None:
    """The checkpoint's weights must have the built model's names and shapes (a CNN's
    checkpoint cannot resume a ViT)."""
    stored = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items() if hasattr(v, "shape")}
    built = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    differ = sorted(k for k in set(stored) | set(built) if stored.get(k) != built.get(k))
    if differ:
        target = (checkpoint.get("hyper_parameters") or {}).get("backbone", {}).get("_target_", "?")
        raise ConfigError(
            f"{key} holds another model ({target}; {len(differ)} weights differ, among them "
            f"{differ[0]}); pass the model it was trained with (model=<name>), or drop ckpt_path."
        )


def check_data_fits(checkpoint: dict[str, Any], datamodule: Any, key: str = "ckpt_path") -> None:
    """The data must have the input shape, classes and vocabulary the checkpoint's model was
    built for."""
    hp = checkpoint.get("hyper_parameters") or {}
    want = (list(hp.get("input_shape") or []), hp.get("num_classes"), hp.get("vocab_size"))
    got = (list(datamodule.input_shape), datamodule.num_classes, datamodule.vocab_size)
    if want != got:
        raise ConfigError(
            f"{key} was trained on inputs {want[0]} with {want[1]} classes (vocabulary "
            f"{want[2]}) but this data gives {got[0]} with {got[1]} (vocabulary {got[2]}); pass "
            "the data it was trained on (data=<name>)."
        )


CALLBACK_PATHS = ("best_model_path", "kth_best_model_path", "last_model_path")


def check_callback_paths(checkpoint: dict[str, Any], source: str) -> None:
    """The checkpoint files a ModelCheckpoint's saved state names (Lightning restores them on
    resume, tests `best_model_path` and deletes `best_k_models` it rotates out) must be `.ckpt`
    files inside that callback's own `dirpath`: a file naming any other path is refused."""
    for name, state in (checkpoint.get("callbacks") or {}).items():
        if not isinstance(state, dict) or "dirpath" not in state:
            continue
        folder = Path(str(state.get("dirpath") or ""))
        paths = [state.get(k) for k in CALLBACK_PATHS] + list(state.get("best_k_models") or {})
        for path in (str(p) for p in paths if p):
            if (
                Path(path).parent != folder
                or Path(path).suffix != ".ckpt"
                or ".." in Path(path).parts
            ):
                raise ConfigError(
                    f"{source} names {path!r} as a checkpoint of its callback {name} outside that "
                    f"callback's folder {folder}; refused (pass a .ckpt written by biaslab)."
                )


def load_checked_model(path: str | Path, key: str = "ckpt_path") -> tuple[dict[str, Any], Any]:
    """(checkpoint, Classifier in eval mode on the CPU): `read_checkpoint`'s checks first, then
    the model built from its hparams; a config the lab cannot build is one sentence."""
    from hydra.errors import InstantiationException

    from biaslab.module import Classifier

    checkpoint = read_checkpoint(path, key)
    try:
        model = Classifier.load_from_checkpoint(str(path), map_location="cpu", weights_only=True)
    except (InstantiationException, TypeError, ValueError, KeyError, RuntimeError) as err:
        raise ConfigError(
            f"{key}={path} holds a model the lab cannot build ({reason_of(err)}); pass a .ckpt "
            "written by biaslab."
        ) from err
    return checkpoint, model.eval()


def read_run_config(run_dir: Path, key: str = "ckpt_path") -> dict[str, Any]:
    """A run folder's saved `config_resolved.yaml` as plain values (YAML's safe loader: no tags,
    no objects) with every `_target_` in it on the exact allow-list, or {} when there is none;
    read before any node of it is instantiated."""
    import yaml

    from biaslab.schema import check_targets

    path = RunDir(Path(run_dir)).config
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(
            f"{path} beside {key} is not a readable run config ({type(err).__name__}); restore "
            "it, or pass data=<name> to name the data."
        ) from err
    if not isinstance(config, dict):
        raise ConfigError(f"{path} beside {key} holds no config; pass data=<name>.")
    check_targets(config, str(path))
    return config
