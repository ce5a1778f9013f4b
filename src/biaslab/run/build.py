"""Building a run's parts from the config: data, module, callbacks and loggers.

Components check themselves in their constructors and name their own arguments; this module
adds the config key (`heads=3 ...` from the backbone becomes `model.backbone.heads=3 ...`) and
checks what spans two groups: the data's modality against the backbone's, and pooling=tokens
against the data's labels. Each part is built once; the net then runs on a tiny batch of every
input shape the data will produce: a PE too short for the test length fails now, not later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.errors import ConfigError
from biaslab.run.files import RunDir
from biaslab.run.keyed import explained, explained_optimizer, refused_alone


def choice(cfg: DictConfig, group: str) -> str | None:
    """The option picked for a config group (`model=vit` -> 'vit'), from Hydra's record."""
    picked = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}")
    if picked is None:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            picked = HydraConfig.get().runtime.choices.get(group)
    return picked


def check_modality(cfg: DictConfig) -> None:
    """The data's modality (image, sequence, graph, tabular) must be one the backbone takes."""
    from hydra.utils import get_class

    data_cls = get_class(cfg.data._target_)
    body_cls = get_class(cfg.model.backbone._target_)
    modality = getattr(data_cls, "modality", None)
    takes = tuple(getattr(body_cls, "modalities", ()))
    if modality is None or not takes or modality in takes:
        return
    data = choice(cfg, "data") or data_cls.__name__
    model = choice(cfg, "model") or body_cls.__name__
    fits = models_taking(modality)
    raise ConfigError(
        f"model={model} takes {' or '.join(takes)} data but data={data} is {modality} data; "
        + (f"pick model={'|'.join(fits)}" if fits else "pick a model that takes it")
        + " or another data set."
    )


def models_taking(modality: str) -> list[str]:
    """The model options (conf/model/*.yaml that name a backbone) whose backbone takes
    `modality`, from the config folder Hydra is reading."""
    import yaml
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_class

    if not HydraConfig.initialized():
        return []
    sources = HydraConfig.get().runtime.config_sources
    folders = [Path(s.path) for s in sources if s.schema == "file" and s.provider == "main"]
    found = []
    for path in sorted(p for f in folders for p in (f / "model").glob("*.yaml")):
        target = ((yaml.safe_load(path.read_text()) or {}).get("backbone") or {}).get("_target_")
        if target and modality in getattr(get_class(target), "modalities", ()):
            found.append(path.stem)
    return found


def record_unused(cfg: DictConfig) -> list[str]:
    """Groups the model does not use are recorded as null (the run's config, W&B and reports
    then never name a factor that had no effect). Today: `pe` for backbones without positions."""
    from hydra.utils import get_class

    backbone = get_class(cfg.model.backbone._target_)
    unused = []
    if not getattr(backbone, "uses_pe", False) and cfg.get("pe") is not None:
        unused.append("pe")
    with open_dict(cfg):
        for group in unused:
            cfg[group] = None
    return unused


def build_components(cfg: DictConfig) -> tuple[Any, Any]:
    """(datamodule, module), each built once from the config, and the net run on a tiny batch
    of every input shape the data produces. Errors come out as ConfigError."""
    import torch
    from hydra.utils import instantiate

    check_modality(cfg)
    with explained(cfg, "data"):
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")  # load now: a file or size problem stops the run before training
    with explained(cfg):  # the parts the module builds are found by who raised
        module = instantiate(cfg.module, _recursive_=False)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            for inputs in datamodule.example_inputs():
                try:
                    per_token = module(inputs).dim() == 3
                except RuntimeError as err:  # e.g. a pooling window larger than the image
                    raise ConfigError(
                        f"model={choice(cfg, 'model')} cannot run on inputs of shape "
                        f"{list(inputs.shape[1:])} ({str(err).splitlines()[0][:100]}); change the "
                        "model's sizes or the data's (data.image_size, data.length)."
                    ) from err
        module.train(was_training)
        module.example_input_array = inputs[:1]  # the model summary's sizes and FLOPs
    if per_token != bool(getattr(datamodule, "labels_per_token", False)):
        raise ConfigError(
            "pooling=tokens gives a label per token but this data has one label per example; "
            "pick another pooling."
            if per_token
            else "this data labels every token (or node): set pooling=tokens."
        )
    with explained_optimizer(cfg):
        optimizer = instantiate(cfg.optimizer)(params=module.parameters())
    with explained(cfg, "scheduler"):  # a schedule checks its arguments when it is built
        instantiate(cfg.scheduler)(optimizer, total_steps=100)
    return datamodule, module


def build_callbacks(cfg: DictConfig, run_dir: RunDir, have_logger: bool) -> list[Any]:
    """The configured callbacks and probes (minus those the trainer settings switch off:
    Lightning refuses a progress bar with enable_progress_bar=false, an LR monitor with no
    logger), then the lab's own, each pointed at its file in the run dir."""
    from hydra.utils import instantiate

    from biaslab.callbacks.distributed import ReleaseProcessGroup
    from biaslab.callbacks.evidence import EpochHistory
    from biaslab.callbacks.reliability import FiniteLossGuard, Preemption

    off = {
        "lr_monitor": not have_logger,
        "progress_bar": not cfg.trainer.get("enable_progress_bar", True),
        "model_summary": not cfg.trainer.get("enable_model_summary", True),
    }
    callbacks = []
    nodes = {**(cfg.get("callbacks") or {}), **(cfg.get("probes") or {})}
    for name, node in nodes.items():
        if node is not None and "_target_" in node and not off.get(name, False):
            callbacks.append(instantiate(node))
    if cfg.get("pruning"):  # a trial of hparams_search=optuna: report each epoch, maybe stop
        from biaslab.callbacks.pruning import OptunaPruning

        monitor = cfg.get("optimized_metric") or "val/acc"
        callbacks.append(OptunaPruning(**cfg.pruning, monitor=monitor, marker=run_dir.pruned))
    stop = cfg.extras.get("on_nonfinite", "raise") == "stop"
    return [
        *callbacks,
        FiniteLossGuard(cfg.extras.get("nan_check_every_n_steps"), stop=stop),
        Preemption(last=run_dir.last_ckpt, marker=run_dir.preempted),
        EpochHistory(run_dir.history),
        ReleaseProcessGroup(),
    ]


def build_trainer(cfg: DictConfig, callbacks: list, loggers: list, plugins: list) -> Any:
    """Lightning's Trainer from `trainer:`; its refusal names the trainer.* key that Lightning
    refuses on its own (each key the config sets, tried alone), with Lightning's first sentence."""
    import inspect

    import lightning as L
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(
            cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins
        )
    except (InstantiationException, ValueError, TypeError) as err:
        cause = err.__cause__ if isinstance(err, InstantiationException) and err.__cause__ else err
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        text = text.split(". ")[0]  # Lightning's first sentence
        params = inspect.signature(L.Trainer).parameters
        node = OmegaConf.to_container(cfg.trainer, resolve=True)
        quiet = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False}
        tried = {k: v for k, v in node.items() if k in params and k not in quiet}
        name = refused_alone(lambda **kw: L.Trainer(**kw, **quiet), tried)
        key = f"trainer.{name}={OmegaConf.select(cfg, f'trainer.{name}')}" if name else "trainer"
        raise ConfigError(
            f"{key} is refused by Lightning ({text.rstrip('.')}); fix that trainer.* key."
        ) from err
