"""W&B as a faithful record, with the real client offline: a copied run dir carries its
artifacts' files, `model:best` is the best-validation checkpoint, a report read back from W&B
equals the one from run dirs after a run is renamed, the config holds each value once, the code
and class names are there, eval.py and a preset's report run log into their groups.

`wandb sync` itself needs a server (it retries an unreachable one for ever), so the tests check
what it would upload: the records of the copied run files and the staged files they name."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from biaslab.utils.wandb_files import (
    artifact_records,
    find_run_files,
    read_history,
    read_records,
    read_run,
    staged_files,
    write_records,
)
from tests.conftest import ROOT, eventually

FAST = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
    "extras.print_config=false",
]
ARMS = "model.backbone.downsample=maxpool,none"


def wandb_env(root: Path) -> dict[str, str]:
    """The command's environment: W&B offline, HOME in `root` (W&B's default staging and cache
    dirs live under it), none of W&B's dir variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    return {**env, "HOME": str(root / "home"), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def run(root: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, script, *args]
    done = subprocess.run(cmd, cwd=ROOT, env=wandb_env(root), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Two arms, one seed, two epochs, checkpoints logged (`log_model`), through the command
    line. `mode=min` makes the best-validation checkpoint an early epoch's, not the last's (the
    callback's own rule: what `model:best` must follow)."""
    root = tmp_path_factory.mktemp("wandb_record")
    out = root / "sweep"
    run(
        root,
        "src/train.py",
        "-m",
        ARMS,
        "seed=0",
        "logger=wandb",
        "logger.wandb.log_model=true",
        "callbacks.model_checkpoint.mode=min",
        f"hydra.sweep.dir={out}",
        *FAST,
    )
    for path in find_run_files(out):  # the service writes the file asynchronously
        eventually(lambda p=path: read_run(p).state, lambda state: state == "finished")
    return out


def jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())


def md5_b64(path: Path) -> str:
    """W&B's manifest digest of a file."""
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


def test_a_copied_run_dir_carries_its_wandb_artifacts(sweep, tmp_path):
    """Copy the sweep elsewhere, take the originals and the HOME the runs used away, relocate
    the copy: every artifact file its records upload from is inside the copy, with the
    manifest's digest; nothing was staged under HOME."""
    home = sweep.parent / "home"
    assert not list((home / ".local" / "share" / "wandb").rglob("staging/*"))
    copy = tmp_path / "login_node" / "sweep"
    shutil.copytree(sweep, copy)
    gone = [(sweep, sweep.with_name("sweep.gone")), (home, home.with_name("home.gone"))]
    for src, dst in gone:
        src.rename(dst)
    try:
        files = find_run_files(copy)
        assert len(files) == 2
        assert not any(f.exists() for f in staged_files(files[0]))  # still the old paths
        done = run(tmp_path, "-m", "biaslab.utils.wandb_files", "relocate", str(copy))
        assert done.stdout.count("relocated") == 2
        for path in files:
            kinds = set()
            for artifact in artifact_records(path):
                kinds.add(artifact.type)
                for entry in artifact.manifest.contents:
                    local = Path(entry.local_path)
                    assert local.is_relative_to(copy / path.relative_to(copy).parts[0])
                    assert md5_b64(local) == entry.digest, entry.path
            assert {"model", "predictions", "code", "run_table"} <= kinds
    finally:
        for src, dst in gone:
            dst.rename(src)


def test_model_best_is_the_best_validation_checkpoint(sweep):
    """Of the `model-<id>` versions, only the best-validation checkpoint's has the `best` alias,
    and its file is that checkpoint (bytes and epoch); `last.ckpt`'s version is `last`."""
    import torch

    for job in jobs(sweep):
        (best_ckpt,) = (job / "checkpoints").glob("epoch_*.ckpt")
        last_ckpt = job / "checkpoints" / "last.ckpt"
        best_epoch = torch.load(best_ckpt, map_location="cpu", weights_only=True)["epoch"]
        last_epoch = torch.load(last_ckpt, map_location="cpu", weights_only=True)["epoch"]
        assert best_epoch < last_epoch  # the setup: best and last are different checkpoints
        (path,) = find_run_files(job)
        models = [a for a in artifact_records(path) if a.type == "model"]
        (best,) = [a for a in models if "best" in a.aliases]
        (staged,) = [Path(e.local_path) for e in best.manifest.contents]
        assert json.loads(best.metadata)["original_filename"] == best_ckpt.name
        assert staged.read_bytes() == best_ckpt.read_bytes()
        assert torch.load(staged, map_location="cpu", weights_only=True)["epoch"] == best_epoch
        last = [a for a in models if json.loads(a.metadata)["original_filename"] == "last.ckpt"]
        assert last and all("last" in a.aliases and "best" not in a.aliases for a in last)


def renamed_copy(sweep: Path, dest: Path, new_name: str) -> list[Path]:
    """The sweep's W&B run files copied to `dest`, the first run renamed as W&B's UI renames
    it: its run record's display name changed, nothing else."""
    copies = []
    for i, path in enumerate(find_run_files(sweep)):
        copy = dest / path.relative_to(sweep)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        if i == 0:
            records = read_records(copy)
            for record in records:
                if record.WhichOneof("record_type") == "run":
                    record.run.display_name = new_name
            write_records(copy, records, path.read_bytes()[:7])
        copies.append(copy)
    return copies


def test_a_report_from_wandb_records_equals_the_one_from_run_dirs_after_a_rename(sweep, tmp_path):
    """The report's table from the run dirs, and from the W&B runs (offline files read as the
    API's runs: name, config, summary, state) after one run was renamed: the same table."""
    from biaslab.analysis.load import load_sweep, load_wandb_files, wandb_runs_frame
    from biaslab.analysis.tables import summarize, to_markdown

    def table(frame) -> str:
        return to_markdown(summarize(frame, primary="test/acc", baseline=None, delta=None), "x")

    from_dirs = table(load_sweep(sweep))
    copies = renamed_copy(sweep, tmp_path / "renamed", "my best run")
    runs = [read_run(path) for path in copies]
    assert "my best run" in {r.name for r in runs}  # the rename took
    assert "downsample" in from_dirs
    assert table(load_wandb_files(tmp_path / "renamed")) == from_dirs
    assert table(wandb_runs_frame(runs)) == from_dirs
    for r in runs:  # the test bites: read from names, the renamed run loses its arm
        del r.config["swept"]
    assert table(wandb_runs_frame(runs)) != from_dirs


def test_a_report_from_wandb_leaves_out_tuning_and_eval_runs_as_the_run_dirs_do(sweep, tmp_path):
    """A tuned preset's W&B group also holds its tuning runs (`test: false`, no test metrics)
    and eval.py's runs, which the run-dir report never reads (they live in other folders):
    read from W&B, the report leaves them out too. Here, run records of the sweep's jobs
    relabelled as such runs, each with the arm and seed of a real job and a summary without
    its test metrics, sorting before it."""
    from biaslab.analysis.load import load_sweep, wandb_runs_frame
    from biaslab.analysis.tables import summarize, to_markdown

    def table(frame) -> str:
        return to_markdown(summarize(frame, primary="test/acc", baseline=None, delta=None), "x")

    from_dirs = table(load_sweep(sweep))
    runs = [read_run(path) for path in find_run_files(sweep)]
    extra = []
    for i, kind in enumerate(("tuning", "eval")):
        other = read_run(find_run_files(sweep)[i])
        other.id = f"0-{kind}"
        other.summary = {k: v for k, v in other.summary.items() if not k.startswith("test")}
        if kind == "tuning":
            other.config["test"] = False
        else:
            other.job_type = "eval"
        extra.append(other)
    assert table(wandb_runs_frame(runs)) == from_dirs
    assert table(wandb_runs_frame([*extra, *runs])) == from_dirs
    for other in extra:  # the test bites: as a job, each takes its arm's place
        other.config["test"], other.job_type = True, "train"
        assert table(wandb_runs_frame([other, *runs])) != from_dirs


def test_the_wandb_config_holds_each_value_once_with_the_swept_values(sweep):
    """No `module` copy of model/pooling/head/loss/optimizer/scheduler; `swept` gives the arm
    and seed; the run's name says them too."""
    for job in jobs(sweep):
        (path,) = find_run_files(job)
        run_ = read_run(path)
        assert "module" not in run_.config
        assert set(run_.config) >= {"model", "pooling", "optimizer", "data", "swept"}
        swept = run_.config["swept"]
        assert set(swept) == {"model.backbone.downsample", "seed"} and swept["seed"] == "0"
        assert run_.name == ",".join(f"{k}={v}" for k, v in swept.items())


def test_the_code_and_the_class_names_are_in_the_record(sweep):
    """The code artifact holds src/ and conf/ as they are; the confusion matrix names the
    digits' classes `0`..`9` (W&B's default labels read `Class_1`..)."""
    (job, *_) = jobs(sweep)
    (path,) = find_run_files(job)
    (code,) = [a for a in artifact_records(path) if a.type == "code"]
    entries = {e.path: e.digest for e in code.manifest.contents}
    assert entries["src/biaslab/utils/wandb_run.py"] == md5_b64(
        ROOT / "src/biaslab/utils/wandb_run.py"
    )
    assert "conf/train.yaml" in entries and not any(p.startswith(".venv") for p in entries)
    (table,) = path.parent.glob("files/media/table/test/confusion*.table.json")
    actual = {row[0] for row in json.loads(table.read_text())["data"]}
    assert actual == {str(i) for i in range(10)}


@pytest.mark.slow  # one src/train.py with W&B, 46 s on a loaded 2-core CPU
def test_the_confusion_matrix_names_fashion_mnists_classes(tmp_path):
    """A Fashion-MNIST run (the four idx files, small, in the real format) labels its W&B
    confusion matrix with the data set's class names, "T-shirt/top" ... "Ankle boot" (before:
    the indices 0..9, the datamodules having no class names)."""
    from tests.data_files import write_mnist

    data = write_mnist(tmp_path / "data", "FashionMNIST")
    out = tmp_path / "run"
    data_args = ["data=fashion_mnist", f"data.data_dir={data}", "data.download=false"]
    run(tmp_path, "src/train.py", *data_args, "logger=wandb", f"hydra.run.dir={out}", *FAST)
    (path,) = find_run_files(out)
    (table,) = path.parent.glob("files/media/table/test/confusion*.table.json")
    actual = [row[0] for row in json.loads(table.read_text())["data"]]
    names = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
    assert list(dict.fromkeys(actual)) == names.split(",")


@pytest.mark.slow  # one src/eval.py, 26 s on a loaded 2-core CPU
def test_eval_logs_to_wandb_in_the_tested_runs_group(sweep, tmp_path):
    (job, *_) = jobs(sweep)
    (ckpt,) = (job / "checkpoints").glob("epoch_*.ckpt")
    trained = read_run(find_run_files(job)[0])
    out = tmp_path / "eval"
    run(tmp_path, "src/eval.py", f"ckpt_path={ckpt}", f"paths.output_dir={out}", *FAST[2:])
    (path,) = find_run_files(out)
    evaluated = eventually(lambda: read_run(path), lambda r: "test/acc" in r.summary)
    assert evaluated.group == trained.group and evaluated.group
    assert evaluated.name == f"eval-{trained.name}"
    assert evaluated.job_type == "eval"
    assert evaluated.config["evaluated"]["run_id"] == trained.id


def test_a_preset_report_run_logs_the_verdicts_table_and_the_forest_plot(sweep, tmp_path):
    """`log_report` (a preset's report step) on the sweep's report: a `verdicts` Table with a
    row per arm of report.csv, the forest plot as an image, its files inside `where`."""
    from biaslab.analysis.report import write_report
    from biaslab.presets import log_report
    from tests.conftest import compose

    report = write_report(sweep, "test/acc", "model.backbone.downsample=maxpool", None, None)
    assert (report / "forest.png").exists()
    cfg = compose(["logger=wandb"], tmp_path)
    where = tmp_path / "preset"
    log_report(cfg, "downsampling_quick", report, "abc", where)
    (path,) = find_run_files(where)
    logged = {k: v for row in read_history(path) for k, v in row.items()}
    assert logged["verdicts/_type"] == "table-file"
    assert logged["verdicts/nrows"] == len((report / "report.csv").read_text().splitlines()) - 1
    assert logged["forest/_type"] == "image-file"
    assert all(f.is_relative_to(where) for f in staged_files(path))


@pytest.mark.slow  # a tuned preset: 4 tuning and 2 final jobs, 180 s on a loaded 2-core CPU
def test_a_tuned_presets_runs_are_named_by_arm_seed_and_tuned_value(tmp_path, monkeypatch):
    """In the preset's W&B group, the tuning runs and the final runs each carry their arm, seed
    and learning rate: no two runs share a name."""
    from biaslab.presets import run_preset

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    fast = [
        "trainer.limit_train_batches=2",
        *FAST[2:4],
        "trainer.max_epochs=1",
        "hydra.sweeper.params={data.batch_size:'16,256',seed:0}",
        "tune.grid={optimizer.lr:[0.01,0.003]}",
        "+tune.widen=0",
    ]
    out = tmp_path / "bs"
    final = run_preset("batch_size_quick", fast, out=out)
    runs = [read_run(f) for f in find_run_files(out)]
    names = [r.name for r in runs if r.job_type == "train"]
    assert len(names) == 6 and len(set(names)) == 6
    assert sum(",test=False," in name for name in names) == 4  # the tuning runs say so
    chosen = json.loads((final / "tuning.json").read_text())
    for arm in chosen.values():
        batch, lr = arm["arm"]["data.batch_size"], arm["chosen"]["optimizer.lr"]
        assert f"data.batch_size={batch},seed=0,optimizer.lr={lr}" in names


def test_relocate_says_bad_input_in_one_sentence(tmp_path):
    """No dir, a missing dir, a run file that is not one: one `Error:` line, exit 2."""
    bad = tmp_path / "copy" / "wandb" / "offline-run-x" / "run-x.wandb"
    bad.parent.mkdir(parents=True)
    bad.write_text("not a run file")
    for args in ([], ["relocate", str(tmp_path / "nope")], ["relocate", str(tmp_path / "copy")]):
        cmd = [sys.executable, "-m", "biaslab.utils.wandb_files", *args]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("Error: ")
    assert bad.read_text() == "not a run file"
