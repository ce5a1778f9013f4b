"""Files are data: a checkpoint or a run folder edited to name code runs nothing, through every
command that reads one (src/eval.py, src/predict.py, src/export.py, a resumed src/train.py).

Each crafted file plants a payload that would create a marker file; the command must exit 2
with one `Error:` line and no traceback, and the marker must not exist. A part a user adds as a
YAML and a class (here through `hydra.searchpath`) trains, and its checkpoint evaluates.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import FAST, ROOT, compose


class SystemCall:
    """Pickled as `os.system(command)`: what `torch.load(weights_only=False)` would run."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> Path:
    """One real digits run (1 epoch, 2 batches): its run folder."""
    from biaslab.run.train import train

    run = tmp_path_factory.mktemp("genuine") / "run"
    train(compose([*FAST, "trainer.limit_train_batches=2", "test=false"], run))
    assert (run / "checkpoints" / "last.ckpt").is_file() and (
        run / "config_resolved.yaml"
    ).is_file()
    return run


def payloads(tmp: Path) -> dict[str, tuple[str, object, Path]]:
    """name: (hparams key path to replace, the node planted there, the marker it would make)."""
    victim = tmp / "victim.txt"
    victim.write_text("secret")
    pickle = tmp / "payload.pt"
    marks = {n: tmp / f"made_by_{n}" for n in ("save", "hub", "nested", "pickle", "args", "part")}
    torch.save(SystemCall(f"touch {marks['pickle']}"), pickle)
    copy = {"src": str(victim), "dst": str(marks["hub"])}
    return {
        "save": (
            "loss",
            {"_target_": "biaslab.losses.torch.save", "obj": 1, "f": str(marks["save"])},
            marks["save"],
        ),
        "hub": (
            "loss",
            {"_target_": "biaslab.losses.torch.hub.shutil.copyfile", **copy},
            marks["hub"],
        ),
        "nested": (
            "backbone.channels",
            [
                32,
                {
                    "_target_": "biaslab.models.net.torch.hub.shutil.copyfile",
                    "src": str(victim),
                    "dst": str(marks["nested"]),
                },
            ],
            marks["nested"],
        ),
        "pickle": (
            "loss",
            {"_target_": "biaslab.losses.torch.load", "f": str(pickle), "weights_only": False},
            marks["pickle"],
        ),
        "args": (
            "loss",
            {
                "_target_": "torch.nn.CrossEntropyLoss",
                "_args_": [
                    {"_target_": "shutil.copyfile", "src": str(victim), "dst": str(marks["args"])}
                ],
            },
            marks["args"],
        ),
        "partial": (
            "optimizer._partial_",
            {"_target_": "shutil.copyfile", "src": str(victim), "dst": str(marks["part"])},
            marks["part"],
        ),
    }


def plant(node: dict, key_path: str, value: object) -> None:
    *parents, last = key_path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value


def crafted_run(genuine: Path, tmp: Path, payload: str | None) -> Path:
    """A copy of the genuine run folder whose last.ckpt carries `payload`: its checkpoint."""
    run = tmp / "crafted"
    shutil.copytree(genuine, run, ignore=shutil.ignore_patterns(".lock", "*.npz", "csv"))
    ckpt = run / "checkpoints" / "last.ckpt"
    if payload is not None:
        key, node, _ = payloads(tmp)[payload]
        checkpoint = torch.load(ckpt, weights_only=True)
        plant(checkpoint["hyper_parameters"], key, node)
        torch.save(checkpoint, ckpt)
    return ckpt


def cli(
    script: str, tmp: Path, *args: str, path: Path | None = None
) -> subprocess.CompletedProcess:
    """Run src/<script> in `tmp` (its BIASLAB_ROOT); `path`: a folder put on PYTHONPATH."""
    env = {**os.environ, "BIASLAB_ROOT": str(tmp), "WANDB_MODE": "offline"}
    env.pop("HYDRA_FULL_ERROR", None)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / script), *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


SCRIPTS = {  # script: its arguments besides ckpt_path (a run dir of its own under tmp)
    "eval.py": ["logger=csv", "trainer.enable_progress_bar=false"],
    "predict.py": [],
    "export.py": [],
    "train.py": [*FAST, "trainer.max_epochs=2"],  # resume from the crafted checkpoint
}


def run_script(
    script: str, ckpt: Path, tmp: Path, *extra: str, path: Path | None = None
) -> subprocess.CompletedProcess:
    out = f"hydra.run.dir={tmp / 'out'}"
    return cli(script, tmp, f"ckpt_path={ckpt}", out, *SCRIPTS[script], *extra, path=path)


def refused(result: subprocess.CompletedProcess, marker: Path, expected: str) -> str:
    """Exit 2, one one-sentence `Error:` line saying `expected`, no traceback, no marker."""
    assert not marker.exists(), f"the payload ran: {marker}"
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1 and expected in lines[0], result.stderr[-3000:]
    assert lines[0].rstrip().endswith(".") and ". " not in lines[0]
    return lines[0]


# --- fast: the check itself, and one command line per kind of file --------------------------


def test_the_allow_list_is_exact_and_checks_every_depth(tmp_path):
    from biaslab.errors import ConfigError
    from biaslab.schema import allowed_targets, check_targets

    allowed = allowed_targets()
    assert {
        "biaslab.models.cnn.CNN",
        "torch.optim.AdamW",
        "biaslab.models.pooling.MeanPool",
    } <= allowed
    assert not [
        t for t in allowed if re.match(r"(torch\.(load|save|hub)|shutil|os|subprocess|pickle)\b", t)
    ]
    base = yaml.safe_load((ROOT / "conf" / "model" / "cnn.yaml").read_text())
    for name, (key, node, _) in payloads(tmp_path).items():
        parts = {
            "backbone": dict(base["backbone"], channels=[32]),
            "loss": {"_target_": "torch.nn.CrossEntropyLoss"},
        }
        parts["optimizer"] = {"_target_": "torch.optim.AdamW", "_partial_": True}
        plant(parts, key, node)
        with pytest.raises(ConfigError, match=re.escape(key.split(".")[0])):
            check_targets(parts, name)
    check_targets({"data": {"_target_": "biaslab.data.digits.DigitsDataModule"}}, "ok")
    with pytest.raises(ConfigError, match=r"callbacks\.x\._target_='os\.system'"):
        check_targets({"callbacks": {"x": {"_target_": "os.system"}}}, "a run config")
    with pytest.raises(ConfigError, match="a\\[1\\]\\._target_=3"):
        check_targets({"a": [{}, {"_target_": 3}]}, "a run config")


def test_eval_refuses_torch_load_walked_to_from_a_lab_module(genuine, tmp_path):
    ckpt = crafted_run(genuine, tmp_path, "pickle")
    marker = payloads(tmp_path)["pickle"][2]
    line = refused(
        run_script("eval.py", ckpt, tmp_path), marker, "loss._target_='biaslab.losses.torch.load'"
    )
    assert "refused before anything was instantiated" in line


def test_predict_refuses_a_run_config_whose_data_names_a_file_copy(genuine, tmp_path):
    ckpt = crafted_run(genuine, tmp_path, None)
    victim, marker = tmp_path / "victim.txt", tmp_path / "made_by_the_run_config"
    victim.write_text("secret")
    config_file = ckpt.parent.parent / "config_resolved.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["data"] = {"_target_": "shutil.copyfile", "src": str(victim), "dst": str(marker)}
    config_file.write_text(yaml.safe_dump(config))
    refused(run_script("predict.py", ckpt, tmp_path), marker, "data._target_='shutil.copyfile'")


def test_no_file_reaches_torch_load_unchecked_or_instantiate_in_the_readers():
    """Every torch.load in src/ and scripts/ reads weights only; report.py, replicate.py,
    pack_results.py and the analysis they use read numbers from run folders and build nothing."""
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]
    for path in sources:
        text = path.read_text()
        for found in re.finditer(r"torch\.load\(", text):
            depth, end = 1, found.end()
            while depth and end < len(text):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            call = text[found.start() : end]
            assert re.search(r"weights_only=True\b", call), f"{path}: {call}"
        # the one unpickler in the lab is CIFAR's restricted one: its find_class refuses every
        # global but numpy's array rebuilders (test_a_crafted_cifar_batch_runs_nothing)
        restricted = path.name == "safe_pickle.py" and "def find_class" in text
        assert restricted or "pickle.load" not in text, path
    readers = [*(ROOT / "src" / "biaslab" / "analysis").rglob("*.py")]
    readers += [ROOT / "scripts" / n for n in ("report.py", "replicate.py", "pack_results.py")]
    for path in readers:
        text = path.read_text()
        assert not re.search(r"\b(instantiate|get_class|get_method|_locate|locate)\(", text), path


# --- slow: every route through every command -----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("payload", ["save", "hub", "nested", "pickle", "args", "partial"])
def test_a_crafted_checkpoint_runs_nothing_in_any_command(genuine, tmp_path, payload, script):
    key, _, marker = payloads(tmp_path)[payload]
    ckpt = crafted_run(genuine, tmp_path, payload)
    refused(run_script(script, ckpt, tmp_path), marker, f"{key}")


@pytest.mark.slow
def test_a_checkpoint_holding_a_pickled_object_is_not_unpickled(genuine, tmp_path):
    ckpt = crafted_run(genuine, tmp_path, None)
    marker = tmp_path / "made_by_unpickling"
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["hyper_parameters"]["loss"] = SystemCall(f"touch {marker}")
    torch.save(checkpoint, ckpt)
    refused(run_script("eval.py", ckpt, tmp_path), marker, "is not a readable checkpoint")


@pytest.mark.slow
@pytest.mark.parametrize("script", ["eval.py", "export.py"])
def test_a_crafted_run_config_runs_nothing(genuine, tmp_path, script):
    ckpt = crafted_run(genuine, tmp_path, None)
    victim, marker = tmp_path / "victim.txt", tmp_path / "made_by_the_run_config"
    victim.write_text("secret")
    config_file = ckpt.parent.parent / "config_resolved.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["data"]["augment"] = [
        {"_target_": "shutil.copyfile", "src": str(victim), "dst": str(marker)}
    ]
    config_file.write_text(yaml.safe_dump(config))
    refused(
        run_script(script, ckpt, tmp_path), marker, "data.augment[0]._target_='shutil.copyfile'"
    )


@pytest.mark.slow
def test_a_checkpoint_naming_paths_outside_its_folder_is_refused(genuine, tmp_path):
    ckpt = crafted_run(genuine, tmp_path, None)
    checkpoint = torch.load(ckpt, weights_only=True)
    keep = tmp_path / "keep.ckpt"
    keep.write_text("not to be deleted")
    for state in checkpoint["callbacks"].values():
        state["best_k_models"] = {str(keep): torch.tensor(0.0)}
    torch.save(checkpoint, ckpt)
    refused(
        run_script("train.py", ckpt, tmp_path),
        tmp_path / "nothing",
        "outside that callback's folder",
    )
    assert keep.read_text() == "not to be deleted"


# bad inputs of src/predict.py: (array or text, what the sentence says)
BAD_INPUTS = {
    "shape": (
        np.zeros((3, 8, 8), np.float32),
        "has shape [3, 8, 8] but the model takes (N, 1, 8, 8)",
    ),
    "int": (np.zeros((3, 1, 8, 8), np.int64), "holds int64 values"),
    "bool": (np.zeros((3, 1, 8, 8), bool), "holds bool values"),
    "complex": (np.zeros((3, 1, 8, 8), np.complex64), "holds complex64 values"),
    "object": (np.array([None, 1], dtype=object), "is not a readable .npy array"),
    "all_nan": (np.full((3, 1, 8, 8), np.nan, np.float32), "holds 192 NaN or infinite values"),
    "inf": (np.where(np.eye(8) > 0, np.inf, 0).astype(np.float32)[None, None], "NaN or infinite"),
    "empty": (np.zeros((0, 1, 8, 8), np.float32), "with N >= 1"),
    "text_npy": ("not an array\n", "is not a readable .npy array"),
    "text_file": ("a,b\n1,2\n", "is neither an .npy file nor a folder"),
}


def write_input(tmp: Path, case: str) -> Path:
    value, _ = BAD_INPUTS[case]
    if isinstance(value, str):
        path = tmp / ("x.txt" if case == "text_file" else "x.npy")
        path.write_text(value)
        return path
    path = tmp / "x.npy"
    np.save(path, value, allow_pickle=True)
    return path


def test_a_crafted_cifar_batch_runs_nothing(tmp_path):
    """CIFAR's batches are pickles: one whose `data` unpickles as `os.system(...)` (checksums
    off, as for files built by hand) is refused by name before anything in it is built."""
    from tests.data_files import write_cifar10

    data = write_cifar10(tmp_path / "data")
    batch = data / "cifar-10-batches-py" / "data_batch_1"
    marker = tmp_path / "made_by_the_batch"
    with batch.open("wb") as f:
        pickle.dump({"data": SystemCall(f"touch {marker}"), "labels": [0]}, f, protocol=2)
    args = ["data=cifar10", f"data.data_dir={data}", "data.download=false"]
    result = cli("train.py", tmp_path, *args, "data.verify_checksums=false", *FAST)
    line = refused(result, marker, f"{batch} is a pickle naming posix.system, which no CIFAR10")
    assert "replace it with the official file" in line


def test_predict_refuses_an_all_nan_input(genuine, tmp_path):
    ckpt = crafted_run(genuine, tmp_path, None)
    result = run_script("predict.py", ckpt, tmp_path, f"input={write_input(tmp_path, 'all_nan')}")
    refused(result, tmp_path / "out" / "predictions.csv", BAD_INPUTS["all_nan"][1])


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(BAD_INPUTS) - {"all_nan"}))
def test_predict_refuses_a_bad_input_in_one_sentence(genuine, tmp_path, case):
    ckpt = crafted_run(genuine, tmp_path, None)
    result = run_script("predict.py", ckpt, tmp_path, f"input={write_input(tmp_path, case)}")
    refused(result, tmp_path / "out" / "predictions.csv", BAD_INPUTS[case][1])


@pytest.mark.slow
def test_export_of_a_checkpoint_alone_rebuilds_its_inputs_from_the_checkpoint(genuine, tmp_path):
    alone = tmp_path / "alone" / "model.ckpt"
    alone.parent.mkdir()
    shutil.copy(genuine / "checkpoints" / "last.ckpt", alone)
    result = run_script("export.py", alone, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    program = torch.export.load(tmp_path / "out" / "model.pt2").module()
    assert program(torch.rand(5, 1, 8, 8)).shape == (5, 10)


USER_POOL = '''
import torch
from biaslab.models.pooling import MeanPool


class DoubledMeanPool(MeanPool):
    """A user's own pooling: twice the mean (its `name` is the mean's, so every backbone that
    takes the mean takes it)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(features)
'''


@pytest.mark.slow
def test_a_user_added_part_trains_and_its_checkpoint_evaluates(tmp_path):
    (tmp_path / "user_parts.py").write_text(USER_POOL)
    conf = tmp_path / "conf" / "pooling"
    conf.mkdir(parents=True)
    (conf / "doubled_mean.yaml").write_text("_target_: user_parts.DoubledMeanPool\n")
    searchpath = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    run, user = tmp_path / "run", {"path": tmp_path}
    trained = cli(
        "train.py",
        tmp_path,
        *FAST,
        "pooling=doubled_mean",
        searchpath,
        f"hydra.run.dir={run}",
        **user,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    ckpt = run / "checkpoints" / "last.ckpt"
    hparams = torch.load(ckpt, weights_only=True)["hyper_parameters"]
    assert hparams["pooling"]["_target_"] == "user_parts.DoubledMeanPool"
    done = run_script("eval.py", ckpt, tmp_path, searchpath, **user)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test/acc" in done.stdout
    # the same checkpoint, for a command whose config sources do not name the class
    line = refused(
        run_script("eval.py", ckpt, tmp_path, **user), tmp_path / "no", "user_parts.DoubledMeanPool"
    )
    assert "pooling._target_" in line
    # a class named on the train command line is the user's own: it trains
    typed = f"hydra.run.dir={tmp_path / 'typed'}"
    typed = cli(
        "train.py", tmp_path, *FAST, "pooling._target_=user_parts.DoubledMeanPool", typed, **user
    )
    assert typed.returncode == 0, typed.stderr[-3000:]
