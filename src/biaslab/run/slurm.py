"""What a SLURM job will look like, before anything is submitted.

`job_script`: the sbatch text submitit submits for a composed config with
`hydra/launcher=slurm`, built by submitit itself from the launcher's parameters the way Hydra's
submitit plugin passes them (a sweep of several jobs is one job array, as `map_array` sends it).
`python -m biaslab.run.slurm -m hydra/launcher=slurm ...` prints it for the same arguments as
`python src/train.py -m hydra/launcher=slurm ...` (the same sweep dir, the same folder).
`sbatch_template`: the plain template (scripts/slurm/train.sbatch) for users without submitit,
filled in.
"""

from __future__ import annotations

import sys
from pathlib import Path
from string import Template
from typing import Any

import biaslab.utils.resolvers  # noqa: F401  (${biaslab.*} in the configs it composes)

TEMPLATE = Path(__file__).resolve().parents[3] / "scripts" / "slurm" / "train.sbatch"
CONF = Path(__file__).resolve().parents[3] / "conf"


def job_script(
    launcher: dict[str, Any],
    folder: Path | str | None = None,
    command: str | None = None,
    jobs: int = 1,
) -> str:
    """The sbatch text for Hydra's submitit SLURM launcher node `launcher` (resolved): `folder`
    defaults to its `submitit_folder`, `command` to submitit's own (`python -u -m
    submitit.core._submit <folder>`), and `jobs` > 1 makes it the job array of a sweep."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    params = {k: v for k, v in launcher.items() if k != "_target_"}
    folder = Path(folder if folder is not None else params["submitit_folder"])
    executor = _executor_off_cluster(submitit, folder, params.get("max_num_timeout", 0))
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    skip = {"submitit_folder", "max_num_timeout"}
    executor.update_parameters(
        **{(k if k in base else f"slurm_{k}"): v for k, v in params.items() if k not in skip}
    )
    slurm = executor._executor
    if jobs > 1:  # what SlurmExecutor._internal_process_submissions sets for map_array
        slurm.parameters["map_count"] = jobs
    return slurm._make_submission_file_text(command or slurm._submitit_command_str, "0")


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
    nodes: int,
    gpus_per_node: int,
    overrides: str,
    partition: str = "gpu",
    hours: int = 4,
    tasks_per_node: int | None = None,
    cpus_per_task: int = 8,
    mem_gb: int = 64,
) -> str:
    """scripts/slurm/train.sbatch with its placeholders filled: `gpus_per_node` GPUs and as many
    tasks per node (trainer=ddp); with 0 GPUs, `tasks_per_node` CPU processes (trainer=ddp_cpu).
    `mem_gb`: --mem per node."""
    return Template(TEMPLATE.read_text()).substitute(
        NODES=nodes,
        TASKS=tasks_per_node or gpus_per_node,
        GPUS=gpus_per_node,
        TRAINER="ddp" if gpus_per_node else "ddp_cpu",
        CPUS=cpus_per_task,
        MEM=mem_gb,
        PARTITION=partition,
        HOURS=f"{hours:02d}",
        OVERRIDES=overrides,
    )


def preview(argv: list[str]) -> str:
    """The job script `python src/train.py <argv>` would submit with hydra/launcher=slurm: the
    same composition, sweep dir and submitit folder; one array task per job of the sweep."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from biaslab.errors import ConfigError

    args = [a for a in argv if a not in ("-m", "--multirun")]
    (jobs,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3", job_name="train"):
        cfg = compose("train", overrides=jobs[0], return_hydra_config=True)
    target = str(cfg.hydra.launcher.get("_target_", ""))
    if not target.endswith("SlurmLauncher"):
        raise ConfigError(
            f"hydra/launcher is not SLURM ({target or 'basic'}); pass hydra/launcher=slurm to "
            "preview its job script."
        )
    return job_script(OmegaConf.to_container(cfg.hydra.launcher, resolve=True), jobs=len(jobs))


def check_tasks(devices: Any, num_nodes: Any, env: dict[str, str] | None = None) -> None:
    """Inside a SLURM job Lightning takes its ranks from SLURM (see `biaslab.utils.rank`) and
    wants `--ntasks-per-node` = trainer.devices and `--nodes` = trainer.num_nodes; say so in one
    sentence before the trainer is built, instead of its traceback (or a hang)."""
    import os

    from biaslab.errors import ConfigError
    from biaslab.utils.rank import INTERACTIVE_JOB_NAMES

    env = dict(os.environ) if env is None else env
    if "SLURM_NTASKS" not in env or env.get("SLURM_JOB_NAME") in INTERACTIVE_JOB_NAMES:
        return
    ntasks, per_node = int(env["SLURM_NTASKS"]), env.get("SLURM_NTASKS_PER_NODE")
    if ntasks > 1 and per_node is None:
        raise ConfigError(
            f"sbatch --ntasks={ntasks} alone does not tell Lightning how the tasks are spread "
            f"over nodes; submit with --nodes=N --ntasks-per-node=<trainer.devices> instead."
        )
    if per_node is not None and isinstance(devices, int) and int(per_node) != devices:
        raise ConfigError(
            f"trainer.devices={devices} but the job has --ntasks-per-node={per_node}; pass "
            f"trainer.devices={per_node} or submit with --ntasks-per-node={devices}."
        )
    nodes = env.get("SLURM_NNODES")
    if nodes is not None and isinstance(num_nodes, int) and int(nodes) != num_nodes:
        raise ConfigError(
            f"trainer.num_nodes={num_nodes} but the job has --nodes={nodes}; pass "
            f"trainer.num_nodes={nodes} or submit with --nodes={num_nodes}."
        )


def main() -> None:
    """python -m biaslab.run.slurm -m hydra/launcher=slurm ...: print the job script."""
    from biaslab.run.checks import exit_with_one_sentence

    print(exit_with_one_sentence(lambda: preview(sys.argv[1:])))


if __name__ == "__main__":
    main()
