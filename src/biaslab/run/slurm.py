"""What a SLURM job will look like, before anything is submitted.

`job_script`: the sbatch text submitit would submit for a composed config with
`hydra/launcher=slurm`, built by submitit itself from the launcher's parameters the way Hydra's
submitit plugin passes them. `sbatch_template`: the plain template (scripts/slurm/train.sbatch)
for users without submitit, filled in.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[3] / "scripts" / "slurm" / "train.sbatch"


def job_script(launcher: dict[str, Any], folder: Path, command: str = "python -u job.py") -> str:
    """The sbatch text for Hydra's submitit SLURM launcher node `launcher` (resolved)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    params = {k: v for k, v in launcher.items() if k != "_target_"}
    executor = _executor_off_cluster(submitit, folder, params.get("max_num_timeout", 0))
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    skip = {"submitit_folder", "max_num_timeout"}
    executor.update_parameters(
        **{(k if k in base else f"slurm_{k}"): v for k, v in params.items() if k not in skip}
    )
    return executor._executor._make_submission_file_text(command, "0")


def _executor_off_cluster(submitit: Any, folder: Path, max_num_timeout: int) -> Any:
    """submitit's own SLURM executor on a machine without SLURM: its constructor only checks
    that `srun` is on PATH, so a stub that is never run stands in while it is built."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as stub:
        srun = Path(stub) / "srun"
        srun.write_text("#!/bin/sh\nexit 1\n")
        srun.chmod(0o755)
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = f"{stub}{os.pathsep}{path}"
        try:
            return submitit.AutoExecutor(
                cluster="slurm", folder=str(folder), slurm_max_num_timeout=max_num_timeout
            )
        finally:
            os.environ["PATH"] = path


def sbatch_template(
    nodes: int, gpus_per_node: int, overrides: str, partition: str = "gpu", hours: int = 4
) -> str:
    """scripts/slurm/train.sbatch with its placeholders filled."""
    return Template(TEMPLATE.read_text()).substitute(
        NODES=nodes,
        GPUS=gpus_per_node,
        PARTITION=partition,
        HOURS=f"{hours:02d}",
        OVERRIDES=overrides,
    )
