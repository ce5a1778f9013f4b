"""Where a preset's runs go once made, and what is kept: --fresh moves earlier runs aside
(never deletes them: kept, e.g. as a pilot); --publish copies the small per-run files to
docs/results/NAME from a clean tree, one protocol per page; the report as a W&B artifact."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from biaslab.errors import ConfigError
from biaslab.study.spec import Preset


def set_aside(out: Path) -> Path | None:
    """--fresh: the preset's earlier runs are moved, never deleted, to <out>.before-<UTC time>
    beside them (in logs/presets: kept, e.g. as a pilot); None when there were none."""
    from biaslab.run.paths import check_inside

    if not out.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved, n = out.with_name(f"{out.name}.before-{stamp}"), 1
    while moved.exists():
        moved, n = out.with_name(f"{out.name}.before-{stamp}-{n}"), n + 1
    check_inside(moved, out.parent, "--fresh")
    return out.rename(moved)


def page_protocol(page: Path) -> int | None:
    """The protocol a published page's runs were made under (its preset.json; a page written
    before protocols were recorded is protocol 1), None where no page is there."""
    info = page / "preset.json"
    if not info.exists():
        return None
    return int(json.loads(info.read_text()).get("protocol") or 1)


def check_publishable(preset: Preset, page: Path) -> None:
    """--publish, before any run: a clean, committed tree (published numbers name their commit)
    and no page of another protocol at `page` (one page holds one protocol's runs and words)."""
    from biaslab.run.provenance import is_dirty
    from biaslab.study.compose import ROOT

    if is_dirty(ROOT):
        raise ConfigError(
            f"--publish runs only from a clean tree and {ROOT} has uncommitted changes; commit "
            "them first (published numbers name their commit)."
        )
    before = page_protocol(page)
    if before is not None and before != preset.protocol:
        raise ConfigError(
            f"--publish would put protocol {preset.protocol} runs of {preset.name} on {page}, "
            f"published under protocol {before}; one page holds one protocol: git rm that page "
            "first (its runs stay in the history) or publish under its protocol."
        )


def publish_files(src: Path, dst: Path) -> Path:
    """Publish the preset's runs to `dst` in the packed form (`biaslab.analysis.pack`: a runs
    table and three archives of the small per-run files, no checkpoints), with preset.json and
    tuning.json; the author's discussion.md already there is kept (same protocol only)."""
    from biaslab.analysis.pack import pack

    made = json.loads((src / "preset.json").read_text()).get("protocol") or 1
    before = page_protocol(dst)
    if before is not None and before != made:
        raise ConfigError(
            f"{dst} holds a page published under protocol {before} and these runs are protocol "
            f"{made}; one page holds one protocol: git rm that page first."
        )
    kept = {}  # the author's prose beside the results is not the runs' to replace
    if dst.exists():
        kept = {p.name: p.read_text() for p in dst.glob("discussion.md")}
        shutil.rmtree(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name, text in kept.items():
        (dst / name).write_text(text)
    pack(src, dst)
    for name in ("preset.json", "tuning.json"):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    return dst


def log_report(cfg, name: str, report: Path, declaration: str | None, where: Path) -> None:
    """The preset's report as a W&B artifact, in a run of its own (job_type `report`) in the
    preset's group, so W&B holds the verdicts beside the runs; its files go under `where` (the
    preset's logs), never beside the published report."""
    import wandb

    from biaslab.utils.wandb_record import log_report_media
    from biaslab.utils.wandb_run import finish_wandb, stage_in, writable_wandb_dir

    node = cfg.logger.wandb
    stage_in(writable_wandb_dir(Path(where)))  # its artifact's files inside `where` too
    run = wandb.init(
        project=node.get("project"),
        entity=node.get("entity"),
        group=f"{name}-{declaration or 'undeclared'}",
        name=f"{name}-report",
        job_type="report",
        dir=str(where),
        mode="offline"
        if os.environ.get("WANDB_MODE") == "offline" or node.get("offline")
        else None,
    )
    artifact = wandb.Artifact(f"{name}-report", type="report")
    artifact.add_dir(str(report))  # staged copies: a later rebuild cannot change what syncs
    run.log_artifact(artifact)
    log_report_media(run, report)  # the verdicts as a Table, the forest plot as an image
    finish_wandb()
