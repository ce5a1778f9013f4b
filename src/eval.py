"""Test a checkpoint: python src/eval.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import biaslab.utils.resolvers  # noqa: F401
from biaslab.run.cli import run, task_started


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    task_started()
    from biaslab.run.checks import exit_with_one_sentence
    from biaslab.run.evaluate import evaluate

    exit_with_one_sentence(lambda: evaluate(cfg))


if __name__ == "__main__":
    run(main)
