"""Shared fixtures: compose the real configs in-process, W&B never touches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.pop("WANDB_API_KEY", None)
if os.environ.get("PYTEST_XDIST_WORKER"):  # one thread per worker (and its subprocesses): the
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # workers already fill the cores

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# A run small enough for the test suite: a few batches, no progress bar, no config print.
FAST = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
    "extras.print_config=false",
    "logger=csv",
]


def group_options(group: str) -> list[str]:
    """Every option of a config group, read from the conf/ folder (new files are covered)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def backbones() -> dict[str, type]:
    """One model option per backbone class (conf/model/*.yaml that names a `backbone._target_`;
    the sized variants inherit theirs): {option: backbone class}."""
    import yaml
    from hydra.utils import get_class

    found: dict[str, type] = {}
    for name in group_options("model"):
        node = yaml.safe_load((CONF / "model" / f"{name}.yaml").read_text()) or {}
        target = (node.get("backbone") or {}).get("_target_")
        if target and get_class(target) not in found.values():
            found[name] = get_class(target)
    return found


def compose(
    overrides: list[str],
    tmp_path: Path | None = None,
    config_name: str = "train",
    keep_hydra: bool = False,
):
    """Compose conf/<config_name>.yaml as Hydra would, with outputs under tmp_path."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import biaslab.utils.resolvers  # noqa: F401

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=overrides, return_hydra_config=True)
    if tmp_path is not None:
        with open_dict(cfg):
            cfg.paths.root_dir = str(ROOT)
            cfg.paths.output_dir = str(tmp_path)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.paths.work_dir = str(ROOT)
            cfg.hydra.runtime.output_dir = str(tmp_path)
            cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    if not keep_hydra:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """Every file-backed data set's files, small, in their real formats, under one data dir
    (`paths.data_dir`), where each conf/data option looks by default."""
    from tests import data_files

    root = tmp_path_factory.mktemp("data")
    for folder in ("MNIST", "FashionMNIST", "KMNIST"):
        data_files.write_mnist(root, folder)
    data_files.write_svhn(root / "svhn")
    data_files.write_cifar10(root)
    data_files.write_cifar100(root)
    data_files.write_image_folder(root / "food-11")
    data_files.write_image_folder(root / "food")
    data_files.write_image_folder(root / "flat", split=False)
    return root


@pytest.fixture
def train_fast(tmp_path):
    """Run biaslab's training pipeline in-process on digits with FAST settings + overrides."""

    def run(*overrides: str, path: Path | None = None) -> dict[str, float]:
        from biaslab.run.train import train

        return train(compose([*FAST, *overrides], path or tmp_path))

    return run


def eventually(read, done, timeout: float = 30.0):
    """`read()` until `done(value)` or the timeout: W&B's service writes its run file
    asynchronously, and a loaded machine can lag behind `wandb.finish()`."""
    import time

    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


SLOW_FIRST = (
    "test_reliability.py",
    "test_sweeps.py",
    "test_order.py",
    "test_report.py",
    "test_presets.py",
    "test_bad_input.py",
)


# an install extra -> the modules it brings; a test needing one is marked `extra("name")`, or is
# found by the words of its id (a parametrized hydra/launcher=joblib, logger=tensorboard)
EXTRAS = {
    "sweeps": (
        "hydra_plugins.hydra_joblib_launcher",
        "hydra_plugins.hydra_submitit_launcher",
        "optuna",
    ),
    "tensorboard": ("tensorboard",),
}
EXTRA_WORDS = {"sweeps": ("joblib", "submitit", "optuna", "slurm"), "tensorboard": ("tensorboard",)}


def missing_extras() -> set[str]:
    import importlib.util

    def absent(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is None
        except ModuleNotFoundError:
            return True

    return {name for name, modules in EXTRAS.items() if any(map(absent, modules))}


# `make test` holds a sample of each large grid (every k-th case, in collection order) and leaves
# the rest, and a few long single tests that other fast tests cover, to `make test-slow`
# (`-m slow`), so the whole fast suite fits 5 minutes on 2 cores with the real-SLURM tests in it.
# (test function -> k): measured sums on 2 cores, 2026-12-07: combinations 138 s over 252 cases,
# option composition 66 s over 145, data-set training 46 s over 23, preset arms 35 s over 32.
SAMPLED = {
    "test_combination": 8,
    "test_option_composes_and_resolves": 5,
    "test_every_data_set_trains_with_a_model_that_takes_it": 3,
    "test_every_arm_of_a_preset_composes_and_builds": 4,
    "test_an_experiment_alone_composes_checks_and_builds": 4,
    "test_a_preset_runs_one_step_of_its_first_arm": 3,
    "test_every_augment_option": 2,
    "test_every_backbone_trains_on_each_modality_it_takes": 2,
    "test_every_optimizer_trains": 2,
    "test_every_scheduler_trains": 2,
    "test_a_failed_download_is_one_sentence": 2,
}
# long single tests whose guarantee a fast test also checks (named beside each)
SLOW_HERE = {
    # the SIGKILL resume: test_a_run_stopped_inside_an_epoch_resumes_to_the_uninterrupted_result
    "test_sigkill_then_same_command_resumes_to_the_same_result",
    # the agent's sweep: test_train's offline W&B tests
    "test_the_documented_wandb_sweep_runs_as_an_agent_runs_it",
    # packing: test_a_committed_report_rebuilds_byte_for_byte reads the packed files
    "test_a_packed_preset_unpacks_to_the_same_files_and_the_same_report",
    # non-finite input: test_predict's and test_trust's other refusals
    "test_predict_refuses_an_all_nan_input",
    # the tuning lines: test_verdicts_v2 and test_study_plan's pure tuning test
    "test_the_tuning_lines_say_which_tied_value_was_taken",
    # v1 statistics, cross-checked: test_protocol_v2 cross-checks v2's against scipy
    "test_the_tests_match_scipy_and_statsmodels_on_random_inputs",
    # a foreign target in a checkpoint: test_trust's eval and predict refusals
    "test_a_checkpoint_that_names_foreign_code_is_refused_and_runs_nothing",
    # order tasks: test_contracts' sequence tasks train
    "test_order_free_control_needs_no_positions",
    "test_order_sensitive_task_needs_positions",
}


def _sample_the_grids(items) -> None:
    """Mark slow every case of a SAMPLED grid but each k-th, and the SLOW_HERE tests."""
    seen: dict[str, int] = {}
    for item in items:
        name = item.name.split("[")[0]
        if name in SLOW_HERE:
            item.add_marker(pytest.mark.slow)
        if name in SAMPLED:
            index = seen[name] = seen.get(name, -1) + 1
            if index % SAMPLED[name]:
                item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)  # before `-m 'not slow'` deselects by marker
def pytest_collection_modifyitems(config, items):
    """The long subprocess tests first: xdist workers then finish together instead of one worker
    starting a two-minute test at the end. A test that needs an extra the install lacks is
    skipped, saying which extra and how to install it."""
    _sample_the_grids(items)
    items.sort(key=lambda item: 0 if item.path.name in SLOW_FIRST else 1)
    missing = missing_extras()
    for item in items:
        needs = {m.args[0] for m in item.iter_markers("extra")}
        needs |= {n for n, words in EXTRA_WORDS.items() if any(w in item.name for w in words)}
        for name in sorted(needs & missing):
            item.add_marker(
                pytest.mark.skip(
                    reason=f"needs the {name} extra: pip install -c requirements.lock -e '.[{name}]'"
                )
            )
