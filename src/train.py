"""Train and test a classifier: python src/train.py model=vit pooling=cls pe=learned

Heavy imports (torch, lightning, wandb) wait until Hydra has parsed the command line, so
--help, --cfg job and --info answer at once.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import biaslab.utils.resolvers  # noqa: F401  (registers ${biaslab.*} resolvers; light)
from biaslab.run.cli import run, task_started
from biaslab.run.sweep import redirect_ddp_child


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    task_started()
    from biaslab.run.checks import exit_with_one_sentence, optimized_value
    from biaslab.run.train import train

    return exit_with_one_sentence(lambda: optimized_value(cfg, train(cfg)))


if __name__ == "__main__":
    if sys.argv[1:] in (["--help"], ["-h"]):
        from pathlib import Path

        from biaslab.utils.config import fast_help

        sys.exit(
            fast_help(Path(__file__).resolve().parents[1] / "conf", "train", __doc__)
        )  # Hydra's own help: --hydra-help, or --help key=value
    sys.argv = redirect_ddp_child(sys.argv)  # DDP ranks > 0 rerun their job's config only
    run(main)  # Hydra's own errors (composition, syntax): one sentence, exit 2
