"""docs/your-question.md, run: every command of its bash blocks, in order, on the digits, with
a few batches per epoch (the guide cannot rot)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "your-question.md"
FEW = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.enable_progress_bar=false",
    "extras.print_config=false",
]


BUNDLES = "\n## 8."  # the three-arm study of named bundles: its own test


def commands(bundles: bool = False) -> list[str]:
    """The guide's bash lines: of steps 1-7, or (`bundles`) of step 8."""
    before, _, after = GUIDE.read_text().partition(BUNDLES)
    blocks = re.findall(r"```bash\n(.*?)```", after if bundles else before, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def run_all(lines: list[str], root) -> dict[str, str]:
    """Each line run as the reader runs it (a few batches per epoch): {line: its stdout}."""
    env = {**os.environ, "BIASLAB_ROOT": str(root), "WANDB_MODE": "offline"}
    said = {}
    for line in lines:
        args = shlex.split(line)
        if args[0] == "cp":  # the copy is the reader's: the template must exist
            assert (ROOT / args[1]).exists()
            continue
        assert args[0] == "python", line
        args = [sys.executable, str(ROOT / args[1]), *args[2:]]
        if args[1].endswith(("train.py", "run_preset.py")) and "--cfg" not in args:
            args += FEW
        done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (line, done.stderr[-2000:])
        said[line] = done.stdout
    return said


@pytest.mark.slow
def test_every_command_of_the_guide_runs_and_gives_what_it_says(tmp_path):
    said = run_all(commands(), tmp_path)
    ran, outputs = list(said), list(said.values())
    assert "dropout: 0.0" in outputs[0] and "weight_decay: 0.05" in outputs[1]
    sweep = tmp_path / "logs" / "question"
    report = (sweep / "report_model.backbone.dropout=0.0_0.01" / "report.md").read_text()
    assert "**Exploratory**" in report and "MDE" in report
    assert (sweep / "report_optimizer.weight_decay=0.0_0.01" / "report.md").exists()
    (pilot,) = [out for line, out in zip(ran, outputs) if "scripts/pilot.py" in line]
    assert "seed rule:" in pilot
    final = tmp_path / "logs" / "presets" / "vit_dropout_quick" / "final" / "report" / "report.md"
    text = final.read_text()
    assert text.startswith("# Preset vit_dropout_quick") and "Declared before the runs" in text
    assert re.search(r"\| (better|worse|inconclusive|equivalent within ±0\.01) \|", text)


@pytest.mark.slow  # 9 runs of a few batches: about 60 s on 2 idle cores, 150 s on busy ones
def test_the_three_arm_study_runs_from_the_guides_commands(tmp_path):
    """Step 8: the three-arm study of named bundles ran from the guide's own commands: --plan
    printed every comparison and the ask, each arm ran in its own folder tagged arm=<name>, and
    preset.json hands every declared comparison (with its underpowered mark) to the report."""
    root, said = tmp_path, run_all(commands(bundles=True), tmp_path)
    (plan,) = [out for line, out in said.items() if "--plan" in line]
    assert "against arm=none" in plan and "against arm=mixup" in plan and "UNDERPOWERED" in plan
    final = root / "logs" / "presets" / "smoothing_vs_mixup_quick" / "final"
    assert sorted(p.name for p in final.glob("arm-*")) == ["arm-mixup", "arm-none", "arm-smoothing"]
    run = next((final / "arm-mixup").glob("0/.hydra/overrides.yaml")).read_text()
    assert "arm=mixup" in run and "augment=mixup" in run
    info = json.loads((final / "preset.json").read_text())
    assert info["protocol"] == 2 and info["seeds"] == [0, 1, 2]
    declared = [(c["baseline"], c["underpowered"]) for c in info["comparisons"]]
    assert declared == [("arm=none", False), ("arm=mixup", True)]
    report = (final / "report" / "report.md").read_text()
    for baseline in ("arm=none", "arm=mixup"):  # every declared comparison, one family
        assert f"| arm=smoothing | {baseline} |" in report, baseline
    assert "underpowered" in report
