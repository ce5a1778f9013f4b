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

from biaslab.run.files import RunDir
from biaslab.run.sweep import swept_keys
from biaslab.utils.rank import rank

log = logging.getLogger("biaslab")


def job_overrides() -> tuple[str | None, str | None]:
    """(run name, group) under Hydra. In a multirun the name is the job's values of the swept
    keys (`seed=1,optimizer=sgd`). The group is `<experiment>-<sweep id>` (the experiment
    config's name, else the task's: `train-...`), the sweep id being a `wandb agent`'s
    ($WANDB_SWEEP_ID) or else the sweep dir's name; a single run outside an agent has none."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None, None
    hc = HydraConfig.get()
    what = hc.runtime.choices.get("experiment") or hc.job.name
    agent_sweep = os.environ.get("WANDB_SWEEP_ID")
    multirun = hc.mode is not None and hc.mode.name == "MULTIRUN"
    if not multirun:
        return hc.job.override_dirname or None, f"{what}-{agent_sweep}" if agent_sweep else None
    sweep_dir = Path(hc.sweep.dir)
    keys = swept_keys(sweep_dir)
    parts = [o for o in hc.overrides.task if o.partition("=")[0].lstrip("+~") in keys]
    return (",".join(parts) or f"job{hc.job.num}"), f"{what}-{agent_sweep or sweep_dir.name}"


def wandb_run_id(output_dir: Path) -> str:
    """The W&B run id kept in the run dir, so a resumed run continues the same W&B run."""
    path = RunDir(output_dir).wandb_id
    if path.exists():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    output_dir.mkdir(parents=True, exist_ok=True)
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


def wandb_node(node: DictConfig, output_dir: Path) -> DictConfig:
    """The W&B logger's node, completed: offline when unreachable, name, group, id, resume."""
    unreachable = wait_for_wandb_start()  # first: nothing may raise while its thread runs
    name, group = job_overrides()
    node = OmegaConf.create(OmegaConf.to_container(node, resolve=True))
    wandb_dir = Path(node.save_dir) / "wandb"
    try:
        wandb_dir.mkdir(parents=True, exist_ok=True)
        (wandb_dir / ".probe").write_text("ok")
        (wandb_dir / ".probe").unlink()
    except OSError as err:
        from biaslab.errors import ConfigError

        raise ConfigError(
            f"logger.wandb.save_dir={node.save_dir} is not writable ({err.strerror}); point it "
            "(or paths.log_dir) at a writable folder, or use logger=csv."
        ) from err
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
        node.id = node.id or os.environ.get("WANDB_RUN_ID") or wandb_run_id(output_dir)
        node.resume = "allow"
        node.tags = list(node.tags or [])
    return node


def log_hyperparams(logger, params: dict, wait_s: float = 60.0) -> None:
    """Log the config (this starts a W&B run). After a kill, the dead process's W&B service can
    hold the run id for some seconds ("run ID ... is in use"): wait for it instead of failing."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            logger.log_hyperparams(params)
            return
        except Exception as err:
            if "is in use" not in str(err) or time.monotonic() > deadline:
                raise
            log.warning("W&B run id still held by a previous process; retrying in 2 s.")
            time.sleep(2.0)


def record_in_wandb(loggers, metrics: dict[str, float], run_dir: RunDir) -> None:
    """W&B as the record of the run: the summary gets every `metrics.json` key (finite), and
    the test predictions go in as an artifact (the .npz and a Table of target, prediction) with
    a confusion matrix, so a report can be rebuilt from W&B alone."""
    import math

    from lightning.pytorch.loggers import WandbLogger

    for logger in loggers:
        if not isinstance(logger, WandbLogger):
            continue
        run = logger.experiment
        run.summary.update({k: v for k, v in metrics.items() if math.isfinite(v)})
        if run_dir.predictions.exists():
            import numpy as np
            import wandb

            saved = np.load(run_dir.predictions)
            target, pred = saved["target"].tolist(), saved["pred"].tolist()
            artifact = wandb.Artifact(f"predictions-{run.id}", type="predictions")
            artifact.add_file(str(run_dir.predictions))
            artifact.add(
                wandb.Table(columns=["target", "pred"], data=list(zip(target, pred))), "test"
            )
            run.log_artifact(artifact)
            run.log({"test/confusion": wandb.plot.confusion_matrix(y_true=target, preds=pred)})


def finish_wandb() -> None:
    """Close the W&B run (if W&B was ever imported), so the next job starts its own."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
