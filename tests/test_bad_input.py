"""Bad input, as a user types it: one sentence naming the key and the fix, no traceback, exit != 0,
and nothing trained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import data_files
from tests.conftest import ROOT

# name: (overrides, what the one sentence says); {placeholders} are files made by the test
CASES = {
    "unknown_key": (["+data.batchsize=32"], "data.batchsize is not an option"),
    "no_such_option": (["model=nope"], "model=nope is not an option of model; choose one of"),
    "text_checkpoint": (["ckpt_path={text}"], "is not a checkpoint (not the zip archive"),
    "mlp_hidden_0": (["head=mlp", "head.hidden=0"], "head.hidden=0 must be a positive integer"),
}
# the rest of the table in docs/reliability.md (one per kind of check is above): `make test-slow`
SLOW_CASES = {
    "batch_size": (["data.batch_size=0"], "data.batch_size=0 must be a positive integer"),
    "pooling": (["model=cnn", "pooling=cls"], "pooling=cls does not fit model.backbone CNN"),
    "trainer_refuses": (["trainer.precision=99"], "trainer.precision=99 is refused by Lightning"),
    "seed_range": (["seed=-1"], "seed=-1 is outside 0 to 2**32-1"),
    "mixup_on_tokens": (
        ["data=seq_majority", "model=seq_attn", "augment=mixup"],
        "the augment group transforms images but this data is sequence data",
    ),
    "train_fraction": (["data.train_fraction=0"], "data.train_fraction=0"),
    "ckpt_path": (["ckpt_path=/nowhere/x.ckpt"], "ckpt_path=/nowhere/x.ckpt is not a file"),
    "seed": (["seed=abc"], "seed=abc is not an integer"),
    "lr": (["optimizer.lr=-1"], "optimizer.lr=-1"),
    "not_an_image": (
        ["data=imagefolder", "data.image_size=16", "data.num_workers=0", "data.root={folder}"],
        "notes.png under data.root is not an image",
    ),
    "no_such_key": (["trainer.nonsense=3"], "trainer.nonsense is not a config key"),
    "no_epochs": (["trainer.max_epochs=0"], "trainer.max_epochs=0 trains nothing"),
    "length_0": (["data=seq_majority", "model=seq_attn", "data.length=0"], "data.length=0"),
    "classes_3_on_digits": (["data.num_classes=3"], "do not match the loaded data"),
    "flip_crop_on_tokens": (
        ["data=seq_majority", "model=seq_attn", "augment=flip_crop"],
        "transforms images but this data is sequence",
    ),
    "label_smoothing_2": (["loss.label_smoothing=2"], "loss.label_smoothing=2 must lie in [0, 1]"),
    "seed_2_pow_40": (["seed=1099511627776"], "is outside 0 to 2**32-1"),
    "threads_0": (["extras.threads=0"], "extras.threads=0: give a number of CPU threads >= 1"),
    "accumulate_0": (["trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches=0"),
    "channels_2": (
        ["data=imagefolder", "data.root={folder}", "data.channels=2"],
        "data.channels=2",
    ),
    "fractions": (["data.fractions=[0.5,0.2]"], "data.fractions=[0.5, 0.2] must be three"),
    "truncated_checkpoint": (["ckpt_path={truncated}"], "is not a checkpoint"),
    "cnn_checkpoint_for_vit": (
        ["model=vit", "ckpt_path={cnn}", "trainer.max_epochs=2"],
        "ckpt_path holds another model",
    ),
    "unwritable_run_dir": (["hydra.run.dir={immutable}/run"], "is not writable"),
    "run_dir_under_a_file": (["hydra.run.dir={file}/run"], "is a file; pass another hydra.run.dir"),
    "heads_0": (
        ["model=vit", "model.backbone.heads=0"],
        "model.backbone.heads=0 must be a positive",
    ),
    "dim_negative": (
        ["model=vit", "model.backbone.dim=-8"],
        "model.backbone.dim=-8 must be a positive",
    ),
    "image_size_0": (
        ["data=imagefolder", "data.root={folder}", "data.image_size=0"],
        "data.image_size=0 must be an integer >= 2",
    ),
    "one_class_folder": (["data=imagefolder", "data.root={one_class}"], "needs at least 2 classes"),
    "dropout_2": (
        ["model=vit", "model.backbone.dropout=2"],
        "model.backbone.dropout=2 must lie in",
    ),
    "devices_0": (["trainer.devices=0"], "trainer.devices=0 is refused by Lightning"),
    "no_train_batches": (["trainer.limit_train_batches=0"], "trains on nothing"),
    "lr_0": (["optimizer.lr=0"], "optimizer.lr=0 must be > 0"),
    "no_channels": (["model.backbone.channels=[]"], "model.backbone.channels=[] has no stage"),
    "negative_gamma": (["scheduler=step", "scheduler.gamma=-0.5"], "scheduler.gamma=-0.5 must lie"),
    "negative_min_ratio": (
        ["scheduler=cosine", "scheduler.min_ratio=-0.1"],
        "scheduler.min_ratio=-0.1",
    ),
    "negative_warmup": (["scheduler.warmup=-0.1"], "scheduler.warmup=-0.1 must lie"),
    "bad_override_syntax": (["seed=["], "is not Hydra syntax"),
    "head_dropout_negative": (["head.dropout=-0.5"], "head.dropout=-0.5 must lie in [0, 1)"),
    "max_time_abc": (["trainer.max_time=abc"], "trainer.max_time=abc is not a duration"),
    "lr_diverges": (["optimizer.lr=1e6"], "non-finite training loss nan at step"),
    "lr_inf": (["optimizer.lr=inf"], "optimizer.lr=inf must be > 0 and finite"),
    "corrupt_svhn": (
        [
            "data=svhn",
            "paths.data_dir={svhn}",
            "data.download=false",
            "data.verify_checksums=false",
        ],
        "svhn/train_32x32.mat cannot be read (could not read bytes)",
    ),
    "corrupt_svhn_checksum": (
        ["data=svhn", "paths.data_dir={svhn}", "data.download=false"],
        "torchvision's checksum test failed for svhn/train_32x32.mat",
    ),
    "empty_class_folder": (
        ["data=imagefolder", "data.root={empty_class}", "data.image_size=16"],
        "its class folder train/class_3 holds no file",
    ),
    "read_only_checkpoints": (
        ["hydra.run.dir={ro_run}"],
        "cannot write checkpoints/epoch_000.ckpt (Operation not permitted)",
    ),
}
IMMUTABLE = {"unwritable_run_dir": "immutable", "read_only_checkpoints": "ro_checkpoints"}
EVAL_CASES = {  # src/eval.py
    "text_checkpoint": (["ckpt_path={text}"], "is not a checkpoint"),
    "truncated_checkpoint": (["ckpt_path={truncated}"], "is not a checkpoint"),
    "cnn_checkpoint_on_tokens": (
        ["data=seq_majority", "ckpt_path={cnn}"],
        "was trained on inputs [1, 8, 8]",
    ),
}


@pytest.fixture(scope="module")
def cnn_checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cnn")
    result = run_cli(root, f"hydra.run.dir={root / 'run'}")
    assert result.returncode == 0, result.stderr[-2000:]
    return root / "run" / "checkpoints" / "last.ckpt"


def files(tmp_path: Path, cnn: Path | None) -> dict[str, str]:
    """The files the placeholders name, made on demand."""
    folder = data_files.write_image_folder(tmp_path / "food")
    (folder / "train" / "class_1" / "notes.png").write_text("not an image")
    good = data_files.write_image_folder(tmp_path / "good")
    one = data_files.write_image_folder(tmp_path / "one", classes=1)
    (tmp_path / "text.ckpt").write_text("hello")
    (tmp_path / "a_file").write_text("x")
    immutable = tmp_path / "immutable"
    immutable.mkdir()
    empty_class = data_files.write_image_folder(tmp_path / "empty_class")
    (empty_class / "train" / "class_3").mkdir()  # a class folder with no image in it
    svhn = data_files.write_svhn(tmp_path / "svhn_data" / "svhn")
    cut = svhn / "train_32x32.mat"
    cut.write_bytes(cut.read_bytes()[:3000])  # a download cut short
    (tmp_path / "ro_run" / "checkpoints").mkdir(parents=True)  # made read-only by the test
    made = {
        "folder": folder,
        "one_class": one,
        "text": tmp_path / "text.ckpt",
        "file": tmp_path / "a_file",
        "immutable": immutable,
        "empty_class": empty_class,
        "svhn": svhn.parent,
        "ro_run": tmp_path / "ro_run",
        "ro_checkpoints": tmp_path / "ro_run" / "checkpoints",
    }
    if cnn is not None:
        (tmp_path / "truncated.ckpt").write_bytes(cnn.read_bytes()[:20000])
        made.update(cnn=cnn, truncated=tmp_path / "truncated.ckpt")
    made["good"] = good
    return {k: str(v) for k, v in made.items()}


def check(result: subprocess.CompletedProcess, expected: str, tmp_path: Path) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert expected in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert line.rstrip().endswith(".") and line.count(". ") == 0  # one sentence
    made = [p for p in tmp_path.rglob("*.ckpt") if p.parent.name == "checkpoints"]
    assert not [p for p in made if "cnn" not in str(p)]  # nothing trained


def run_cli(
    tmp_path, *overrides: str, full_error: bool = False, script: str = "src/train.py"
) -> subprocess.CompletedProcess:
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    env.pop("HYDRA_FULL_ERROR", None)
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    return subprocess.run(
        [sys.executable, script, "logger=csv", "trainer.max_epochs=1", *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_sentence_without_traceback(case, tmp_path):
    overrides, expected = CASES[case]
    made = files(tmp_path, None)
    result = run_cli(tmp_path, *(o.format(**made) for o in overrides))
    check(result, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SLOW_CASES))
def test_every_bad_input_of_the_table_is_one_sentence(case, tmp_path, cnn_checkpoint):
    overrides, expected = SLOW_CASES[case]
    made = files(tmp_path, cnn_checkpoint)
    frozen = made[IMMUTABLE.get(case, "immutable")]
    chattr = ["chattr", "+i", frozen]
    if case in IMMUTABLE and subprocess.run(chattr, capture_output=True).returncode:
        pytest.skip("chattr +i is not available here (root writes anywhere without it)")
    try:
        result = run_cli(tmp_path, *(o.format(**made) for o in overrides))
    finally:
        subprocess.run(["chattr", "-i", frozen], capture_output=True)
    check(result, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(EVAL_CASES))
def test_bad_checkpoints_for_eval_are_one_sentence(case, tmp_path, cnn_checkpoint):
    overrides, expected = EVAL_CASES[case]
    made = files(tmp_path, cnn_checkpoint)
    result = run_cli(tmp_path, *(o.format(**made) for o in overrides), script="src/eval.py")
    check(result, expected, tmp_path)


@pytest.mark.slow
def test_hydra_full_error_shows_the_traceback(tmp_path):
    result = run_cli(tmp_path, "data.batch_size=0", full_error=True)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "data.batch_size=0" in result.stderr


def test_an_unknown_option_of_run_preset_is_one_sentence_and_exit_2(tmp_path):
    """`--out DIR` is not an option: one line that names it and the options there are, exit 2,
    no traceback (Hydra would otherwise fail to parse it as an override, with its stack). A
    sweep override (`seed=0,1`) is one line too, with the quoted form that sets a preset's seeds
    (Hydra's own hint, --multirun, does not apply to a preset)."""
    import subprocess
    import sys

    from biaslab.presets import ROOT

    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_preset.py"), "loss_quick", "--out", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "--out is not an option of run_preset.py" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    swept = [sys.executable, str(ROOT / "scripts" / "run_preset.py"), "loss_quick", "seed=0,1"]
    done = subprocess.run(swept, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "quote the values: hydra.sweeper.params.seed='0,1'" in done.stderr  # the fix


# The scan below: no regular expression reads another library's message text in src/. A call
# of a `re` function (or a compiled pattern's search/match/fullmatch/findall/finditer/sub/
# subn/split) is flagged when its text argument mentions an exception's text: a name bound by
# `except ... as name`, a parameter annotated as an exception, a local assigned (at any depth)
# from one of those, or a parameter named as message text (text, message, msg, stderr,
# output). What it cannot see: text read back from a file or stream under another name.
RE_TEXT_ARG = {"sub": 2, "subn": 2}  # the text's position; 1 for the others
RE_CALLS = {"search", "match", "fullmatch", "findall", "finditer", "split", "sub", "subn"}
TEXT_PARAMS = {"text", "message", "msg", "stderr", "output"}
OWN_TEXT = {  # regular expressions over the lab's own text, and why they are allowed
    "biaslab/run/sweep.py:fails_every_job": "a ConfigError's sentence (the lab's own) names a key",
    "biaslab/analysis/verdicts.py:first_sentence": "a study's discussion.md, prose, no error",
}


def _names(node) -> set[str]:
    import ast

    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _exception_names(func) -> set[str]:
    """The names in `func` that hold an exception or its text (see the scan's definition)."""
    import ast

    params = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
    found = {h.name for h in ast.walk(func) if isinstance(h, ast.ExceptHandler) and h.name}
    for arg in params:
        note = ast.unparse(arg.annotation) if arg.annotation is not None else ""
        if "Exception" in note or "Error" in note or arg.arg in TEXT_PARAMS:
            found.add(arg.arg)
    assigns = [n for n in ast.walk(func) if isinstance(n, ast.Assign | ast.NamedExpr)]
    while True:
        more = {
            name
            for node in assigns
            if _names(node.value) & found
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            for name in _names(target)
        } - found
        if not more:
            return found
        found |= more


def regex_over_exception_text(source: str, where: str) -> list[str]:
    """`file:function` for each regular expression over exception text in `source`."""
    import ast

    flagged = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        held = _exception_names(func)
        for call in ast.walk(func):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                continue
            name = call.func.attr
            at = RE_TEXT_ARG.get(name, 1) if _names(call.func) == {"re"} else 0
            if name in RE_CALLS and len(call.args) > at and _names(call.args[at]) & held:
                flagged.append(f"{where}:{func.name}")
    return flagged


def test_no_regular_expression_reads_another_librarys_message_text():
    src = ROOT / "src"
    flagged = {
        hit
        for path in sorted(src.rglob("*.py"))
        for hit in regex_over_exception_text(path.read_text(), str(path.relative_to(src)))
    }
    assert flagged == set(OWN_TEXT), sorted(flagged - set(OWN_TEXT))


def test_the_scan_finds_the_regular_expressions_it_replaced():
    """The scan flags the sentences read off Hydra's, torch's and Lightning's text before
    issue 48 (build.py's `explained`, `build_trainer`; cli.py's `one_sentence`)."""
    old = """
import re
def explained(cfg):
    try:
        yield
    except InstantiationException as err:
        inner = err.__cause__
        target = re.search(r"target '([^']+)'", str(inner))
def build_trainer(cfg):
    try:
        return 1
    except ValueError as err:
        text = str(err).splitlines()[0]
        found = [n for n in names if re.search(pattern.format(n), text, re.I)]
def one_sentence(text: str) -> str:
    found = re.search(r"Could not override '([^']+)'", text)
"""
    assert regex_over_exception_text(old, "old.py") == [
        "old.py:explained",
        "old.py:build_trainer",
        "old.py:one_sentence",
    ]
