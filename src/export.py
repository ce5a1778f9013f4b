"""Export a trained model: python src/export.py ckpt_path=<run>/checkpoints/last.ckpt
format=torch_export|onnx -> a standalone model whose logits match the checkpoint's (<= 1e-4)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import biaslab.utils.resolvers  # noqa: F401
from biaslab.run.cli import run, task_started


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
def main(cfg: DictConfig) -> None:
    task_started()
    from biaslab.run.checks import exit_with_one_sentence
    from biaslab.run.predict import export_run

    print(f"Exported: {exit_with_one_sentence(lambda: export_run(cfg))}")


if __name__ == "__main__":
    run(main)
