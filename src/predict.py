"""Predict with a trained model: python src/predict.py ckpt_path=<run>/checkpoints/last.ckpt
[input=images/ | input=x.npy] -> a CSV of per-example predictions and probabilities."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import biaslab.utils.resolvers  # noqa: F401
from biaslab.run.cli import run, task_started


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    task_started()
    from biaslab.run.checks import exit_with_one_sentence
    from biaslab.run.predict import predict

    print(f"Predictions: {exit_with_one_sentence(lambda: predict(cfg))}")


if __name__ == "__main__":
    run(main)
