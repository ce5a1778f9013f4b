"""One command per lecture preset: `python scripts/run_preset.py NAME [--publish]`.

A preset with `exclusive: true` (its metric is a measured time) runs its jobs one at a time,
whatever launcher the command line asks for.

1. If the preset has a `tune:` node, a tuning sweep (every arm x the grid, `tune.seeds`, no
   test) picks each arm's value by `tune.metric` (validation accuracy unless the preset names
   another, e.g. the training loss its primary compares). `tune.over` (swept keys)
   tunes per value of those keys only, with the other swept keys held at `tune.at` during
   tuning (e.g. one LR per model family, chosen at one data size, for every size);
2. the preset's seeds then run, each arm at its chosen value, with test;
3. `preset.json` (command, date, machine, commit, wall time) and `tuning.json` are written and
   the report is built; `--publish` copies the small per-run files to docs/results/NAME and
   rebuilds the report there, from the copy alone.

Every stage writes into a fixed sweep dir (logs/presets/NAME/...), so the same command after a
stop skips finished jobs and resumes the cut one.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from biaslab.tuning import QUIET, ROOT, train, tune


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
            lambda: compose(
                "train", overrides=[f"experiment={name}", *extra], return_hydra_config=True
            )
        )


def said(compose: Any) -> Any:
    """`compose()`, with Hydra's composition error said as the lab's one sentence (the option
    and the options there are), as src/train.py says it."""
    import yaml
    from hydra.errors import ConfigCompositionException, OverrideParseException

    from biaslab.errors import ConfigError
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

    from biaslab.errors import ConfigError

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


def run_preset(
    name: str,
    extra: list[str] = (),
    out: Path | None = None,
    publish: bool = False,
    fresh: bool = False,
) -> Path:
    """Run (or resume) one preset; return the dir its report is built from. `fresh`: its
    earlier runs are first moved aside (`set_aside`), once the name and declaration passed."""
    from biaslab.analysis.report import write_report
    from biaslab.run.provenance import commit_of

    cfg, extra, out, claim, params = _prepare(name, list(extra), out, publish, fresh)
    start = time.time()
    stop = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so `finally` runs on SIGTERM too
    try:
        final = _run_stages(name, out, params, cfg.get("tune"), extra)
    finally:
        signal.signal(signal.SIGTERM, stop)
        # a stopped or failed session's time counts too (wall.json adds up over sessions)
        wall_file = out / "wall.json"
        spent = json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else 0.0
        out.mkdir(parents=True, exist_ok=True)
        wall_file.write_text(json.dumps({"wall_s": spent + time.time() - start}) + "\n")
    info = {
        "command": " ".join(["python scripts/run_preset.py", name, *extra]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "commit": (commit_of(ROOT) or "")[:7],
        "wall_s": json.loads(wall_file.read_text())["wall_s"],
        "declaration": declaration_hash(claim),
    }
    (final / "preset.json").write_text(json.dumps(info, indent=1) + "\n")
    write_report(final)
    if publish:
        final = publish_files(final, ROOT / "docs" / "results" / name)
        write_report(final)
    if "wandb" in (cfg.get("logger") or {}):
        log_report(cfg, name, final / "report", declaration_hash(claim), out)
    return final


def _prepare(name: str, extra: list[str], out: Path | None, publish: bool, fresh: bool):
    """Everything checked before a preset's first run (its name, overrides, declaration, a
    clean tree for --publish), then --fresh's move: (cfg, extra, out, claim, swept params)."""
    from omegaconf import OmegaConf

    from biaslab.errors import ConfigError
    from biaslab.run.provenance import is_dirty

    cfg = preset_config(name, extra)
    if cfg.get("exclusive"):  # measured times: no other job may share the CPU
        parallel = [e for e in extra if e.startswith(("hydra/launcher=", "hydra.launcher."))]
        if parallel:
            print(
                f"{name} measures time: its jobs run one at a time ({' '.join(parallel)} ignored)"
            )
        extra = [e for e in extra if e not in parallel]
        cfg = preset_config(name, extra)
    out = Path(out or preset_dir(name))
    if publish and is_dirty(ROOT):
        raise ConfigError(
            f"--publish runs only from a clean tree and {ROOT} has uncommitted changes; commit "
            "them first (published numbers name their commit)."
        )
    claim = OmegaConf.to_container(cfg.claim, resolve=True) if cfg.get("claim") else None
    params = {k: str(v) for k, v in (OmegaConf.select(cfg, "hydra.sweeper.params") or {}).items()}
    check_arms(claim, OmegaConf.to_container(cfg.get("report") or {}, resolve=True), params)
    moved = set_aside(out) if fresh else None
    if moved:
        print(f"--fresh: the earlier runs of {name} were moved to {moved}")
    check_declaration(name, out, claim)
    if "wandb" in (cfg.get("logger") or {}) and not any(
        e.startswith("logger.wandb.group=") for e in extra
    ):  # the user's own logger; its runs grouped by preset and declaration (a resume rejoins)
        extra.append(f"logger.wandb.group={name}-{declaration_hash(claim) or 'undeclared'}")
    return cfg, extra, out, claim, params


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
    from biaslab.errors import ConfigError
    from biaslab.run.paths import plain_name

    names = preset_names(root)
    hint = f"choose one of {', '.join(names)} (run_preset.py --list)"
    plain_name(name, "the preset name", hint)
    if name not in names:
        raise ConfigError(f"{name!r} is not a preset of {root / 'conf' / 'experiment'}; {hint}.")
    return name


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


def declaration_hash(claim: Any) -> str | None:
    """A short hash of a preset's declaration (`claim:`), recorded with its runs."""
    import hashlib

    if claim is None:
        return None
    return hashlib.sha256(json.dumps(claim, sort_keys=True).encode()).hexdigest()[:12]


def check_declaration(name: str, out: Path, claim: Any) -> None:
    """Refuse to add runs under a changed declaration to runs made under another one (each
    run's config holds the `claim:` it was made under): the preset is re-run whole."""
    from biaslab.errors import ConfigError
    from biaslab.run.files import find_runs

    for run in find_runs(out)[:1] if out.exists() else []:
        before = run.read_config().get("claim")
        if before != claim:
            raise ConfigError(
                f"{out} holds runs of {name} made under another declaration (claim "
                f"{declaration_hash(before)}, now {declaration_hash(claim)}); re-run the preset "
                "whole: pass --fresh (it moves those runs aside) or another out dir."
            )


def swept_values(params: dict[str, str]) -> dict[str, list[str] | None]:
    """{swept key: the values its jobs take, as text}; None where the sweep syntax is not one
    Hydra's parser expands here (then that key's values are not checked)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, out = OverridesParser.create(), {}
    for key, text in params.items():
        try:
            override = parser.parse_override(f"{key}={text}")
            values = (
                list(override.sweep_string_iterator())
                if override.is_sweep_override()
                else [override.get_value_element_as_str()]
            )
        except Exception:  # a sweep syntax without a finite list (interval, tag)
            values = None
        out[key] = values
    return out


def _same_value(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def check_arm(text: Any, key: str, values: dict[str, list[str] | None]) -> None:
    """`text` (`key=value`) must be an arm the preset runs: a swept key and one of its values."""
    from biaslab.errors import ConfigError

    swept, arm = sorted(k for k in values if k != "seed"), str(text)
    name, _, value = arm.partition("=")
    if name not in swept:
        raise ConfigError(
            f"{key}={arm!r} is not an arm this preset runs: {name!r} is not one of the keys "
            f"hydra.sweeper.params sweeps ({', '.join(swept) or 'none'}); name one of them as "
            "key=value."
        )
    runs = values[name]
    if runs is not None and not any(_same_value(value, v) for v in runs):
        raise ConfigError(
            f"{key}={arm!r} is not an arm this preset runs: {name} sweeps {', '.join(runs)}; "
            f"name one of those (e.g. {name}={runs[0]})."
        )


def check_arms(claim: Any, report: dict[str, Any], params: dict[str, str]) -> None:
    """The declaration names only what the preset runs, before any run: `claim` a mapping,
    `claim.comparisons` a list of mappings, each with a `metric` and a `baseline` that is an
    arm, its `at` swept keys at swept values; `report.baseline` an arm."""
    from biaslab.errors import ConfigError

    values = swept_values(params)
    example = "[{baseline: model=cnn, metric: test/acc, delta: 0.01}]"
    if claim is not None and not isinstance(claim, dict):
        raise ConfigError(f"claim={claim!r} must be a mapping (id, text, setup, comparisons).")
    comparisons = (claim or {}).get("comparisons")
    if comparisons is not None and not (
        isinstance(comparisons, list) and all(isinstance(c, dict) for c in comparisons)
    ):
        raise ConfigError(
            f"claim.comparisons={comparisons!r} must be a list of mappings, one per "
            f"comparison, e.g. {example}."
        )
    for i, comparison in enumerate(comparisons or []):
        key = f"claim.comparisons[{i}]"
        for part in ("baseline", "metric"):
            if not comparison.get(part):
                raise ConfigError(f"{key} has no {part}; give one, as in {example}.")
        check_arm(comparison["baseline"], f"{key}.baseline", values)
        at = comparison.get("at") or {}
        if not isinstance(at, dict):
            raise ConfigError(f"{key}.at={at!r} must be a mapping of swept keys to values.")
        unswept = sorted(set(at) - set(params))
        if unswept:
            raise ConfigError(
                f"{key}.at names {unswept}, which hydra.sweeper.params does not sweep; give it "
                f"only swept keys ({', '.join(sorted(params))})."
            )
        for name, value in at.items():
            check_arm(f"{name}={value}", f"{key}.at", values)
    if report.get("baseline"):
        check_arm(report["baseline"], "report.baseline", values)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM (a scheduler, `timeout`) ends the preset like Ctrl+C: cleanup runs, exit 143."""
    raise SystemExit(128 + signum)


def listing(root: Path = ROOT, lecture: tuple[str, ...] = ()) -> list[str]:
    """One line per preset (claim id, the page's wall time and the CPU or GPU its runs
    recorded), then, for the `lecture` presets named, their total: times measured on other
    hosts do not transfer, so each line names its own."""
    import csv

    import yaml

    from biaslab.analysis.pack import TABLE

    lines, walls = [], {}
    for path in sorted((root / "conf" / "experiment").glob("*.yaml")):
        try:  # one malformed file is marked; the others are listed
            node = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
            where = getattr(err, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            lines.append(f"{path.stem:26s} not read: malformed YAML{at}; fix {path}")
            continue
        claim = (node.get("claim") if isinstance(node, dict) else None) or {}
        claim = claim if isinstance(claim, dict) else {}
        page = root / "docs" / "results" / path.stem
        wall, where = "not run", ""
        if (page / "preset.json").exists():
            walls[path.stem] = json.loads((page / "preset.json").read_text())["wall_s"] / 60
            wall = f"{walls[path.stem]:.1f} min"
        if (page / TABLE).exists():
            with (page / TABLE).open() as rows:
                where = "; ".join(
                    sorted({r.get("device") for r in csv.DictReader(rows)} - {None, ""})
                )
        lines.append(f"{path.stem:26s} {claim.get('id', '-')!s:14s} {wall:10s} {where}".rstrip())
    if lecture:
        missing = [name for name in lecture if name not in walls]
        longest = max((n for n in lecture if n in walls), key=walls.get, default=None)
        lines.append(
            f"lecture set ({len(lecture)} presets, each on the host its line names): "
            f"{sum(walls.get(n, 0) for n in lecture) / 60:.1f} h"
            + (f", the longest {longest} {walls[longest]:.1f} min" if longest else "")
            + (f"; not run: {', '.join(missing)}" if missing else "")
        )
    return lines


def machine() -> str:
    """This machine in words, with the GPU's name where one is visible."""
    import torch

    words = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    return words + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")


def _run_stages(name: str, out: Path, params: dict[str, str], spec, extra: list[str]) -> Path:
    """Tuning (if any) and the seeds; returns the dir the report is built from."""
    if spec:
        chosen = tune(name, out, params, spec, extra)
        final = out / "final"
        for slug, entry in chosen.items():
            fixed = [f"{k}=choice({v})" for k, v in entry["arm"].items()]  # wins over the params
            train(
                f"experiment={name}",
                f"hydra.sweep.dir={final / slug}",
                *QUIET,
                *extra,
                *fixed,
                *[f"{k}={v}" for k, v in entry["chosen"].items()],
            )
        (final / "tuning.json").write_text(json.dumps(chosen, indent=1) + "\n")
    else:
        final = out / "final"
        train(f"experiment={name}", f"hydra.sweep.dir={final}", *QUIET, *extra)
    return final


def publish_files(src: Path, dst: Path) -> Path:
    """Publish the preset's runs to `dst` in the packed form (`biaslab.analysis.pack`: a runs
    table and three archives of the small per-run files, no checkpoints), with preset.json and
    tuning.json; the author's discussion.md already there is kept."""
    from biaslab.analysis.pack import pack

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
