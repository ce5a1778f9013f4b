"""docs/your-question.md, run: every command of its bash blocks, in order, on the digits, with
a few batches per epoch (the guide cannot rot)."""

from __future__ import annotations

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


def commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_every_command_of_the_guide_runs_and_gives_what_it_says(tmp_path):
    env = {**os.environ, "BIASLAB_ROOT": str(tmp_path), "WANDB_MODE": "offline"}
    outputs, ran = [], []
    for line in commands():
        args = shlex.split(line)
        if args[0] == "cp":  # the copy is the reader's: the template must exist
            assert (ROOT / args[1]).exists()
            continue
        assert args[0] == "python", line
        args = [sys.executable, str(ROOT / args[1]), *args[2:]]
        if args[1].endswith(("train.py", "run_preset.py")) and "--cfg" not in args:
            args += FEW
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (line, done.stderr[-2000:])
        outputs.append(done.stdout)
        ran.append(line)
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
