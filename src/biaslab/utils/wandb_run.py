"""W&B in one place: the early start, the offline fallback, run ids, names and groups, the
config upload (with the wait for a killed run's id) and the finish between sweep jobs."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.utils.rank import rank
from biaslab.utils.sweep_keys import swept_keys

log = logging.getLogger("biaslab")


def job_overrides() -> tuple[str | None, str | None]:
    """(run name, group) under Hydra. In a multirun the name is the job's values of the swept
    keys, its seed and a preset's tuned keys (`optimizer=sgd,seed=1,optimizer.lr=0.01`: what
    tells the preset's runs apart, see `job_values`). The group is `<experiment>-<sweep id>`
    (the experiment config's name, else the task's: `train-...`), the sweep id being a `wandb
    agent`'s ($WANDB_SWEEP_ID) or else the sweep dir's name; a single run outside an agent has
    none."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None, None
    hc = HydraConfig.get()
    what = hc.runtime.choices.get("experiment") or hc.job.name
    agent_sweep = os.environ.get("WANDB_SWEEP_ID")
    multirun = hc.mode is not None and hc.mode.name == "MULTIRUN"
    if not multirun:
        return hc.job.override_dirname or None, f"{what}-{agent_sweep}" if agent_sweep else None
    name = ",".join(f"{k}={v}" for k, v in job_values(tuned_keys(Path(hc.sweep.dir))).items())
    return (name or f"job{hc.job.num}"), f"{what}-{agent_sweep or Path(hc.sweep.dir).name}"


def tuned_keys(sweep_dir: Path) -> set[str]:
    """The keys a preset's tuning sets per arm (`tune.grid` in the sweep's multirun.yaml) and
    `test` (false in its tuning runs): plain overrides in each of its multiruns (the final
    runs' chosen LR, a widened grid value), yet they differ between the preset's runs, which
    share one W&B group, so its run names carry them. None outside a tuned preset."""
    import yaml

    path = sweep_dir / "multirun.yaml"
    tune = (yaml.safe_load(path.read_text()) or {}).get("tune") if path.exists() else None
    grid = set(((tune or {}).get("grid") or {}).keys())
    return grid | {"test"} if grid else grid


def job_values(more: set[str] = frozenset()) -> dict[str, str]:
    """The job's values of the keys its multirun sweeps, and its seed when an override sets it
    ({key: override value text}, in command line order; `load_sweep`'s columns; `more`: other
    keys to give when set), empty outside a multirun. Recorded in the W&B config (`swept`),
    where a report reads them: a run's name can be changed in W&B's UI, its config cannot."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    hc = HydraConfig.get()
    if hc.mode is None or hc.mode.name != "MULTIRUN":
        return {}
    keys = swept_keys(Path(hc.sweep.dir)) | {"seed"} | set(more)
    pairs = (o.lstrip("+~").partition("=") for o in hc.overrides.task)
    return {key: value for key, _, value in pairs if key in keys}


def wandb_run_id(path: Path) -> str:
    """The W&B run id kept in the run dir's file `path` (`RunDir.wandb_id`), so a resumed run
    continues the same W&B run."""
    if path.exists():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id)
    return run_id


_early_wandb: dict[str, Any] = {}


def start_wandb_early(cfg: DictConfig) -> None:
    """W&B's own start costs about 1.5 s before the first step: importing it, its launch module
    (which every `wandb.init` imports), its service process and, when online, a probe of its
    server. Do all of that in a background thread while torch and lightning import and the data
    and model are built; `build_loggers` (or `end_job`, if the job fails first) waits for
    it. Rank 0 only, and only when the W&B logger is configured. The mode is fixed before
    `wandb.setup()`, which freezes its settings for the process: offline when the config says so
    or the server is unreachable."""
    node = (cfg.get("logger") or {}).get("wandb")
    if node is None or "_target_" not in node or "thread" in _early_wandb:
        return
    if not rank().is_zero or os.environ.get("WANDB_MODE") == "disabled":
        return
    offline = bool(node.get("offline"))
    thread = threading.Thread(target=_start_wandb, args=(offline,), name="wandb-start", daemon=True)
    _early_wandb["thread"] = thread
    thread.start()


def _start_wandb(offline: bool) -> None:
    try:
        _early_wandb["unreachable"] = unreachable = server_unreachable(offline)
        if offline or unreachable:
            os.environ["WANDB_MODE"] = "offline"
        import wandb
        import wandb.sdk.launch.inputs.internal

        wandb.setup()
    except Exception as err:  # the same steps run again on the main path, which reports them
        log.debug("Early W&B start failed: %s", err)


def wait_for_wandb_start() -> bool | None:
    """Join the early start; return its `server_unreachable` (None when it did not run)."""
    thread = _early_wandb.pop("thread", None)
    if thread is not None:
        thread.join()
    return _early_wandb.pop("unreachable", None)


def server_unreachable(offline: bool) -> bool:
    """Is the W&B logger set online (config and $WANDB_MODE) with its server unreachable?"""
    if offline or os.environ.get("WANDB_MODE") in ("offline", "dryrun", "disabled"):
        return False
    return not wandb_reachable()


def wandb_reachable(timeout: float = 3.0) -> bool:
    """Can we open a connection to the W&B server ($WANDB_BASE_URL, else api.wandb.ai)?"""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def writable_wandb_dir(save_dir: Path) -> Path:
    """`<save_dir>/wandb`, made and probed: a read-only folder is refused in one sentence."""
    wandb_dir = save_dir / "wandb"
    try:
        wandb_dir.mkdir(parents=True, exist_ok=True)
        (wandb_dir / ".probe").write_text("ok")
        (wandb_dir / ".probe").unlink()
    except OSError as err:
        from biaslab.errors import ConfigError

        raise ConfigError(
            f"logger.wandb.save_dir={save_dir} is not writable ({err.strerror}); point it "
            "(or paths.log_dir) at a writable folder, or use logger=csv."
        ) from err
    return wandb_dir


STAGING_ENV = ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_ARTIFACT_DIR")
_env_before: dict[str, str | None] = {}


def stage_in(wandb_dir: Path) -> None:
    """Keep W&B's files of this run inside `wandb_dir` (the run's own `<run dir>/wandb`), not
    under the home dir: artifacts are staged in $WANDB_DATA_DIR/artifacts/staging (read by
    the client at each `log_artifact`), downloads and the artifact cache go to
    $WANDB_ARTIFACT_DIR and $WANDB_CACHE_DIR. So a run dir copied off a node carries its
    artifacts' files for `wandb sync` (after `python -m biaslab.utils.wandb_files relocate
    COPY` when the copy's path differs). `finish_wandb` restores the variables."""
    dirs = dict(zip(STAGING_ENV, ("data", "cache", "artifacts")))
    for key, sub in dirs.items():
        _env_before.setdefault(key, os.environ.get(key))
        os.environ[key] = str(wandb_dir.resolve() / sub)


def _restore_staging_env() -> None:
    for key, value in _env_before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _env_before.clear()


def wandb_node(node: DictConfig, output_dir: Path, id_file: Path) -> DictConfig:
    """The W&B logger's node, completed: offline when unreachable, name, group, id (kept in
    `id_file`, the run dir's), resume."""
    unreachable = wait_for_wandb_start()  # first: nothing may raise while its thread runs
    name, group = job_overrides()
    node = OmegaConf.create(OmegaConf.to_container(node, resolve=True))
    wandb_dir = writable_wandb_dir(Path(node.save_dir))
    stage_in(wandb_dir)
    if unreachable is None:
        unreachable = server_unreachable(node.offline)
    if unreachable:
        log.warning(
            "W&B is set online but its server cannot be reached: logging offline to %s; "
            "upload later with `wandb sync`.",
            wandb_dir,
        )
        os.environ["WANDB_MODE"] = "offline"
        node.offline = True
    if node.offline and node.log_model:  # Lightning refuses log_model offline: let W&B's own
        os.environ["WANDB_MODE"] = "offline"  # offline mode keep the checkpoints for `wandb sync`
        node.offline = False
    with open_dict(node):
        node.name = node.name or name or Path(output_dir).name
        node.group = node.group or group
        # a `wandb agent` sets WANDB_RUN_ID: its run is this run (kept in the run dir for resumes)
        node.id = node.id or os.environ.get("WANDB_RUN_ID") or wandb_run_id(id_file)
        node.resume = "allow"
        node.tags = list(node.tags or [])
    return node


def log_hyperparams(logger, params: dict, wait_s: float = 60.0) -> None:
    """Log the config (this starts a W&B run). After a kill, the dead process's W&B service can
    hold the run id for some seconds ("run ID ... is in use"): wait for it instead of failing.
    W&B gets `wandb_config(params)` and, once its run has started, the code (`save_code`)."""
    from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger

    is_wandb = isinstance(logger, LightningWandbLogger)
    if is_wandb:
        params = wandb_config(params)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            logger.log_hyperparams(params)
            break
        except Exception as err:
            if "is in use" not in str(err) or time.monotonic() > deadline:
                raise
            log.warning("W&B run id still held by a previous process; retrying in 2 s.")
            time.sleep(2.0)
    if is_wandb and params.get("paths", {}).get("root_dir"):
        save_code(logger.experiment, Path(params["paths"]["root_dir"]))


def wandb_config(params: dict) -> dict:
    """The config W&B records: each hyper-parameter once (`module:` only repeats model.backbone,
    pooling, head, loss, optimizer, scheduler and data's shapes, by interpolation), and the
    job's swept values under `swept` ({key: value}, see `job_values`), which a report reads."""
    config = {k: v for k, v in params.items() if k != "module"}
    config["swept"] = job_values()
    return config


CODE = {"src": (".py",), "conf": (".yaml",)}


def save_code(run, root: Path) -> None:
    """The code in W&B's Code tab (`run.log_code`: a `source-<project>` artifact, one version
    per content, so the runs of one commit share it): src/ *.py and conf/ *.yaml, about 0.6 MB.
    `log_code` walks every file under its root (.venv and logs included: seconds), so it gets
    a temporary copy of just those files."""
    import shutil
    import tempfile

    files = [
        path.relative_to(root)
        for folder, suffixes in CODE.items()
        for path in sorted((root / folder).rglob("*"))
        if path.suffix in suffixes and path.is_file() and "__pycache__" not in path.parts
    ]
    if not files:
        return
    with tempfile.TemporaryDirectory(prefix="biaslab-code-") as tmp:
        for rel in files:
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, Path(tmp) / rel)
        run.log_code(tmp, name=f"source-{run.project or 'biaslab'}", include_fn=lambda p: True)


def finish_wandb() -> None:
    """Close the W&B run (if W&B was ever imported), so the next job starts its own, and give
    back the staging variables `stage_in` set."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    _restore_staging_env()
