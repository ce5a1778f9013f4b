"""Names are names (issue 44): a preset name, task_name or run dir is checked before anything is
deleted, moved or written, a declaration before any run, and a sweep whose every job would fail
on the same bad input stops at the first. Each test drives the command line, in a temporary
BIASLAB_ROOT, with planted files that must all still be there after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST, ROOT


def command(script: str, *args: str, root: Path, cwd: Path | None = None, timeout: int = 300):
    """`python <script> args` with BIASLAB_ROOT=root (logs go there), W&B offline."""
    env = {**os.environ, "BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_sentence(done: subprocess.CompletedProcess) -> str:
    """The refusal: exit 2, no traceback, its last stderr line an `Error:` sentence."""
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: "), done.stderr[-2000:]
    return last


def plant(folder: Path) -> dict[Path, str]:
    """Files that must outlive a refused command: {path: text}."""
    files = {folder / "a.txt": "victim", folder / "sub" / "b.txt": "victim too"}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "name", ["../../../victim", "", "../experiment/fc_vs_cnn_quick", "no_such_preset", "."]
)
def test_fresh_with_a_name_that_is_not_a_preset_touches_nothing(name, tmp_path):
    """`run_preset.py NAME --fresh` deleted a directory outside the lab (`../..` names), every
    preset's runs (`''`) or wrote outside logs/presets before it said the name was wrong: the
    name is now checked first, and nothing anywhere is moved, deleted or written."""
    root = tmp_path / "root"
    planted = {
        **plant(tmp_path / "victim"),  # where ../../../victim points from logs/presets
        **plant(root / "logs" / "presets" / "loss_quick"),  # another preset's runs
        **plant(root / "logs" / "experiment" / "fc_vs_cnn_quick"),
    }
    before = files_under(tmp_path)
    sentence = one_sentence(command("scripts/run_preset.py", name, "--fresh", root=root))
    assert "preset" in sentence and "choose one of" in sentence and "loss_quick" in sentence
    assert files_under(tmp_path) == before  # nothing added, nothing removed
    assert all(path.read_text() == text for path, text in planted.items())


def test_fresh_without_a_name_and_a_stray_option_are_one_sentence(tmp_path):
    sentence = one_sentence(command("scripts/run_preset.py", "--fresh", root=tmp_path))
    assert "needs a preset NAME" in sentence
    sentence = one_sentence(command("scripts/run_preset.py", "loss_quick", "--out", root=tmp_path))
    assert "--out is not an option of run_preset.py" in sentence
    assert not (tmp_path / "logs").exists()


def test_a_task_name_or_run_dir_that_leaves_its_root_is_refused_with_nothing_written(tmp_path):
    """task_name=../../x wrote at the filesystem root, hydra.run.dir='' trained into the
    folder the command started in, a 300-character run dir failed inside a library: each is
    one sentence before Hydra makes any folder, in a single run and in a sweep."""
    root, cwd = tmp_path / "root", tmp_path / "cwd"
    cwd.mkdir()
    cases = {
        "task_name=../../x": "task_name='../../x' is not one folder name",
        "hydra.run.dir=''": "hydra.run.dir='' is empty",
        "hydra.run.dir=": "hydra.run.dir='' is empty",
        f"hydra.run.dir={tmp_path / ('d' * 300)}": "hydra.run.dir is too long",
    }
    for override, said in cases.items():
        done = command("src/train.py", override, *FAST, root=root, cwd=cwd)
        assert said in one_sentence(done), override
    for override in ("task_name=../../x", f"hydra.sweep.dir={tmp_path / ('d' * 300)}"):
        done = command("src/train.py", "-m", "seed=0,1", override, *FAST, root=root, cwd=cwd)
        assert one_sentence(done)
    done = command("src/train.py", "-m", "seed=0,1", "hydra.sweep.subdir=../../y", root=root)
    assert "hydra.sweep.subdir=../../y leaves the sweep dir" in one_sentence(done)
    assert files_under(tmp_path) == set() and not list(cwd.iterdir())  # no folder made either
    assert not root.exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("override", "said"),
    [
        (
            "claim={id:X,text:t,comparisons:[{baseline:'optimizer=nadam',metric:test/acc}]}",
            "claim.comparisons[0].baseline=optimizer=nadam: optimizer takes sgd, sgd_momentum",
        ),
        (
            "claim={id:X,text:t,comparisons:[{baseline:'model=vit',metric:test/acc}]}",
            "model is not an arm's key (this preset varies optimizer)",
        ),
        ("claim={id:X,text:t,comparisons:oops}", "claim.comparisons is a str ('oops')"),
        ("claim={id:X,text:t,comparisons:[oops]}", "claim.comparisons[0] is a str; write it as"),
        ("claim={id:X,text:t,comparisons:[{metric:test/acc}]}", "has no baseline"),
        ("report.baseline='optimizer=nadam'", "report.baseline=optimizer=nadam: optimizer takes"),
        (
            "report.baseline=optimizer=nadam",
            "an override is not Hydra syntax ('report.baseline=optimizer=nadam')",
        ),
    ],
)
def test_a_declaration_naming_what_the_preset_does_not_run_is_refused_before_any_run(
    override, said, tmp_path
):
    """A comparison against an arm the preset never runs ran to the end and the report never
    said so; a `comparisons` string gave a traceback. Now: one sentence, no folder made."""
    done = command(
        "scripts/run_preset.py", "optimizers_quick", override, "logger=csv", root=tmp_path
    )
    assert said in one_sentence(done)
    assert not (tmp_path / "logs").exists()


def test_list_survives_a_malformed_preset_and_that_preset_is_one_sentence(tmp_path):
    """One malformed experiment YAML broke `--list` for every preset: it is marked, the others
    listed; running it is one sentence. (A clone's scripts read the clone's conf/.)"""
    clone = tmp_path / "clone"
    for part in ("scripts", "src", "conf"):
        shutil.copytree(ROOT / part, clone / part, ignore=shutil.ignore_patterns("__pycache__"))
    (clone / "conf" / "experiment" / "broken.yaml").write_text("claim: [unclosed\n  id: X\n")
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path / "out")}
    script = str(clone / "scripts" / "run_preset.py")
    listed = subprocess.run([sys.executable, script, "--list"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr[-2000:]
    lines = listed.stdout.splitlines()
    (broken,) = [line for line in lines if line.startswith("broken ")]
    assert "malformed YAML at line" in broken and "broken.yaml" in broken
    assert any(line.startswith("loss_quick ") for line in lines)
    ran = subprocess.run(
        [sys.executable, script, "broken", "--fresh"], capture_output=True, text=True, env=env
    )
    assert one_sentence(ran)
    assert not (tmp_path / "out").exists()


def test_report_on_a_missing_or_empty_dir_or_a_damaged_run_file_is_one_sentence(tmp_path):
    """report.py gave tracebacks (FileNotFoundError, KeyError 'status', JSONDecodeError)."""
    said = one_sentence(command("scripts/report.py", str(tmp_path / "nope"), root=tmp_path))
    assert "is not a folder" in said
    (tmp_path / "empty").mkdir()
    said = one_sentence(command("scripts/report.py", str(tmp_path / "empty"), root=tmp_path))
    assert "holds no runs" in said
    job = tmp_path / "sweep" / "0"  # a job folder as Hydra leaves it, its metrics cut short
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- seed=0\n")
    (job / "metrics.json").write_text('{"test/acc": 0.9')
    said = one_sentence(command("scripts/report.py", str(tmp_path / "sweep"), root=tmp_path))
    assert f"{job / 'metrics.json'} cannot be read" in said and f"remove {job}" in said
    said = one_sentence(command("scripts/report.py", root=tmp_path))  # argparse's own error
    assert "arguments are required: sweep_dir" in said


def test_every_script_says_bad_input_in_one_sentence(tmp_path):
    cases = [
        ("scripts/replicate.py", "../x"),
        ("scripts/replicate.py", "loss_quick", "--seeds", "5:1"),
        ("scripts/pilot.py", "nope"),
        ("scripts/pilot.py", "loss_quick", str(tmp_path / "no_pilot")),
        ("scripts/pack_results.py", "../results"),
        ("scripts/params.py", "--match"),
        ("scripts/params.py", "model=nope"),
        ("scripts/options.py", "--nope"),
        ("scripts/results_md.py", "nope"),
    ]
    for script, *args in cases:
        assert one_sentence(command(script, *args, root=tmp_path)), (script, args)
    assert not (tmp_path / "logs").exists()


def test_an_error_every_job_shares_is_told_from_one_arms_own():
    from biaslab.errors import ConfigError, MissingDataError
    from biaslab.run.sweep import fails_every_job

    swept = {"optimizer", "seed", "model.backbone.downsample"}
    missing = MissingDataError("data.data_dir=/x holds no FashionMNIST files; set data.download")
    assert fails_every_job(missing, swept)
    assert fails_every_job(missing, {"data.train_fraction", "seed"})
    assert not fails_every_job(missing, {"data", "seed"})  # another data set per arm
    own = ConfigError("model.backbone.downsample='bogus': choose maxpool, avgpool or none.")
    assert not fails_every_job(own, swept)
    assert not fails_every_job(RuntimeError("CUDA out of memory"), swept)  # not bad input
    from biaslab.callbacks.reliability import NonFiniteLossError

    diverged = NonFiniteLossError("non-finite training loss nan at step 3; lower the LR")
    assert not fails_every_job(diverged, swept)  # one seed's outcome, not the sweep's input


@pytest.mark.slow  # one preset job's start-up and refusal: about 30 s on 2 busy cores
def test_a_preset_whose_data_is_missing_stops_at_its_first_job_in_one_sentence(tmp_path):
    """A preset whose data was missing ran all its tuning jobs, each failing the same way, then
    ended in a CalledProcessError traceback. Now the first job's MissingDataError stops the
    sweep: one sentence, exit 2, one job folder; --fresh first moved the earlier runs aside."""
    root, empty = tmp_path / "root", tmp_path / "no_data"
    empty.mkdir()
    earlier = plant(root / "logs" / "presets" / "optimizers_quick")
    start = time.monotonic()
    done = command(
        "scripts/run_preset.py",
        "optimizers_quick",  # 6 optimizers x 8 learning rates: 48 tuning jobs
        "--fresh",
        "data=fashion_mnist",
        f"data.data_dir={empty}",
        "data.download=false",
        "logger=csv",
        root=root,
    )
    took = time.monotonic() - start
    said = one_sentence(done)
    assert f"data.data_dir={empty} holds no FashionMNIST files" in said
    assert "stopped at job 0: every job would fail on this" in said
    tune = root / "logs" / "presets" / "optimizers_quick" / "tune"
    assert sorted(p.name for p in tune.iterdir() if p.is_dir()) == ["0"]  # one job ran
    assert (tune / "stopped.txt").read_text().strip() == said.removeprefix("Error: ")
    assert took < 180, took  # one job's time (48 failing jobs took minutes)
    (moved,) = (root / "logs" / "presets").glob("optimizers_quick.before-*")
    for path, text in earlier.items():
        kept = moved / path.relative_to(root / "logs" / "presets" / "optimizers_quick")
        assert kept.read_text() == text


@pytest.mark.slow  # composes every preset: about 30 s
def test_every_presets_declaration_names_only_arms_it_runs():
    from biaslab.study.compose import preset_config, preset_names, preset_of

    for name in preset_names():  # the typed declaration of the composed config: checked once
        preset = preset_of(name, preset_config(name, []))
        assert all(c.key in preset.factors for c in preset.comparisons)


def test_an_arms_folder_is_one_plain_folder_name():
    """A tuned preset names a folder per arm from its swept values: `/` cannot make a path of
    it, and a name the file system cannot hold is one sentence, not ENAMETOOLONG mid-preset."""
    from biaslab.errors import ConfigError
    from biaslab.study.tuning import arm_slug as _arm_slug

    assert _arm_slug({"model": "../../x"}) == "model-..-..-x"
    assert _arm_slug({}) == "all"
    with pytest.raises(ConfigError, match=r"the arm folder .* is longer than a folder name"):
        _arm_slug({"model.backbone.channels": "[" + "64," * 100 + "64]"})


@pytest.mark.slow  # a joblib sweep's start-up and refusal: about 50 s on 2 busy cores
def test_a_joblib_sweep_whose_data_is_missing_stops_with_its_first_batch(tmp_path):
    """Under joblib the failing job's exit reaches the sweep's process: the jobs not yet started
    never start (6 jobs, 2 at a time: at most the first 2 folders), one sentence, exit 2."""
    empty = tmp_path / "no_data"
    empty.mkdir()
    sweep = tmp_path / "sweep"
    done = command(
        "src/train.py",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        "data=fashion_mnist",
        f"data.data_dir={empty}",
        "data.download=false",
        "seed=0,1,2,3,4,5",
        *FAST,
        root=tmp_path,
    )
    said = one_sentence(done)
    assert f"data.data_dir={empty} holds no FashionMNIST files" in said
    assert len([line for line in done.stderr.splitlines() if line.startswith("Error:")]) == 1
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert 1 <= len(jobs) <= 2 and set(jobs) <= {"0", "1"}, jobs
    assert (sweep / "stopped.txt").exists()
