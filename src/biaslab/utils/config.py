"""A run's opening lines: a short header (what trains on what, where its files go) and the
config tree, saved beside the run and printed only when asked (`extras.print_config=true`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

FIRST = ("data", "model", "pe", "pooling", "head", "loss", "optimizer", "scheduler", "trainer")


def print_config_tree(
    cfg: DictConfig,
    order: Sequence[str] = FIRST,
    save_to: Path | None = None,
    show: bool = True,
) -> None:
    """Every top-level node as a branch of a rich tree: written to `save_to` (when given) and
    printed when `show`; the default run shows only the header (`print_header`)."""
    import rich
    import rich.syntax
    import rich.tree

    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order]
    for key in keys:
        branch = tree.add(str(key), style="bold")
        node = cfg[key]
        text = OmegaConf.to_yaml(node, resolve=True) if isinstance(node, DictConfig) else str(node)
        branch.add(rich.syntax.Syntax(text, "yaml"))
    if show:
        rich.print(tree)
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        with open(save_to, "w") as f:
            rich.print(tree, file=f)


HEADER_GROUPS = ("model", "data", "pe", "pooling", "head", "optimizer", "scheduler", "loss")


def _choices(cfg: DictConfig) -> dict[str, str]:
    """{group: the option picked} as Hydra recorded it; outside Hydra, the class each group's
    `_target_` names."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        picked = HydraConfig.get().runtime.choices
        return {g: str(picked[g]) for g in HEADER_GROUPS if picked.get(g) is not None}
    found = {}
    for group in HEADER_GROUPS:
        node = cfg.get(group)
        node = node.get("backbone", node) if isinstance(node, DictConfig) else node
        if isinstance(node, DictConfig) and node.get("_target_"):
            found[group] = str(node._target_).rsplit(".", 1)[-1]
    return found


def header(cfg: DictConfig, run_dir: Path, device: str) -> list[str]:
    """Four lines: the parts (group=option, a group a model ignores left out: `pe: null`),
    the budget and device, and the run dir with where the full config is."""
    import torch

    picked = _choices(cfg)
    parts = [f"{g}={picked[g]}" for g in HEADER_GROUPS if g in picked and cfg.get(g) is not None]
    data = cfg.get("data") or {}
    shape = "x".join(str(n) for n in data.get("input_shape") or [])
    threads = f", {torch.get_num_threads()} torch threads" * device.startswith("CPU")
    epochs = cfg.trainer.get("max_epochs")
    loggers = ", ".join(cfg.get("logger") or {}) or "none"
    return [
        f"biaslab: {' '.join(parts[:2])} ({data.get('num_classes')} classes of {shape})",
        f"         {' '.join(parts[2:])}",
        f"{epochs} epoch{'s' * (epochs != 1)}, seed {cfg.get('seed')}, on {device}{threads}; "
        f"logger: {loggers}",
        f"run dir: {run_dir} (config, checkpoints, metrics; extras.print_config=true prints the "
        "config)",
    ]


def print_header(cfg: DictConfig, run_dir: Path, device: str) -> None:
    """The header, before anything else of the run is printed."""
    from rich.console import Console

    Console(soft_wrap=True, highlight=False).print("\n".join(header(cfg, run_dir, device)))


def fast_help(conf_dir: Path, config_name: str, doc: str | None) -> int:
    """`--help` without composing: the config groups and their options, read from conf/.

    Hydra's own `--help` lists every group by composing it (about 1.4 s here); this answers in
    the time of a Python start. `--help key=value` still gives Hydra's full help.
    """
    lines = [
        (doc or "").strip(),
        "",
        f"Config: conf/{config_name}.yaml. Pick an option with group=option:",
    ]
    for group in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name not in ("local",)):
        if group.name == "hydra":
            continue
        options = sorted(f.stem for f in group.glob("*.yaml"))
        if options:
            lines.append(f"  {group.name}: {', '.join(options)}")
    lines.append(
        "  hydra/launcher: basic, joblib, submitit_local, submitit_slurm, "
        + ", ".join(sorted(f.stem for f in (conf_dir / "hydra" / "launcher").glob("*.yaml")))
    )
    lines += [
        "",
        "Any key: key=value (model.backbone.dim=128), sweeps: -m key=a,b (see docs/sweeps.md).",
        "See the composed config: --cfg job [--resolve]; Hydra's own flags: --hydra-help.",
        "Every option, its default and what it touches: docs/options.md.",
    ]
    print("\n".join(lines))
    return 0
