"""Evaluation: the best-validation checkpoint and the last weights on the test set, the whole
training set in eval mode, per-example predictions, and `src/eval.py`'s test of a checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig

from biaslab.errors import ConfigError
from biaslab.losses import per_example
from biaslab.run.files import RunDir

log = logging.getLogger("biaslab")


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def saved_epoch(path: str) -> int | None:
    """The epoch a checkpoint was saved at (its own record, not its file name)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except (OSError, KeyError, RuntimeError):
        return None


def test_best_and_last(
    trainer: L.Trainer, model: L.LightningModule, datamodule: Any, trained: bool
) -> dict[str, float]:
    """`test/*` of the best-validation checkpoint and `test_last/*` of the last weights (one test
    when the best checkpoint is the last epoch's)."""
    callback = trainer.checkpoint_callback
    best = callback.best_model_path if callback is not None else ""
    same = bool(best) and saved_epoch(best) == trainer.current_epoch - 1
    metrics: dict[str, float] = {}
    if trained and not same:  # the last weights, before the best checkpoint is loaded
        trainer.test(model, datamodule=datamodule, verbose=False)
        last = scalars(trainer.callback_metrics)
        metrics.update({f"test_last/{k[5:]}": v for k, v in last.items() if k.startswith("test/")})
    if not best:
        log.warning("No best checkpoint: testing the current weights.")
    trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
    metrics.update(scalars(trainer.callback_metrics))
    if trained and same:  # one test serves both
        tested = {k[5:]: v for k, v in metrics.items() if k.startswith("test/")}
        metrics.update({f"test_last/{k}": v for k, v in tested.items()})
    return metrics


SATURATED = 0.01  # a softmax probability of the true class below this: saturated and wrong


@torch.no_grad()
def evaluate_split(
    module: L.LightningModule, batches
) -> tuple[float, float, torch.Tensor, torch.Tensor, float]:
    """(mean loss, accuracy, predictions (N,), targets (N,), saturated-wrong share) of `module`
    in eval mode. Saturated-wrong: softmax gives the true class < SATURATED, where MSE on
    softmax outputs has almost no gradient (the lecture's flat region)."""
    was_training = module.training
    module.eval()
    total, saturated, preds, targets = 0.0, 0, [], []
    for inputs, y in batches:
        inputs, y = inputs.to(module.device), y.to(module.device)
        logits, y = per_example(module(inputs), y)
        total += float(module.criterion(logits, y)) * len(y)
        p_true = logits.float().softmax(-1).gather(-1, y.long().unsqueeze(-1)).squeeze(-1)
        saturated += int((p_true < SATURATED).sum())
        preds.append(logits.argmax(-1).cpu())
        targets.append(y.cpu())
    module.train(was_training)
    pred, target = torch.cat(preds), torch.cat(targets)
    accuracy = float((pred == target).float().mean())
    return total / len(target), accuracy, pred, target, saturated / len(target)


def train_set_metrics(module: L.LightningModule, datamodule: Any) -> dict[str, float]:
    """`train_eval/*`: loss, accuracy and the saturated-wrong share on the whole training split
    in eval mode (no augmentation, not the running average of an epoch) at the module's current
    weights: call it before the best checkpoint is loaded, so they are the final weights'."""
    loss, acc, _, _, saturated = evaluate_split(module, datamodule.eval_batches("train"))
    return {"train_eval/loss": loss, "train_eval/acc": acc, "train_eval/saturated_wrong": saturated}


def end_of_run(module: L.LightningModule, datamodule: Any, run_dir: RunDir) -> dict[str, float]:
    """At the best-validation weights (loaded by the test): the training split in eval mode
    (`train_eval_best/*`), the generalisation gap against `test/*`, and the test predictions,
    saved compactly (pred, target) for paired tests between runs."""
    train_loss, train_acc, *_ = evaluate_split(module, datamodule.eval_batches("train"))
    test_loss, test_acc, pred, target, _ = evaluate_split(module, datamodule.eval_batches("test"))
    dtype = np.uint8 if int(max(pred.max(), target.max())) < 256 else np.int32
    pred_np, target_np = pred.numpy().astype(dtype), target.numpy().astype(dtype)
    np.savez_compressed(run_dir.predictions, pred=pred_np, target=target_np)
    return {
        "train_eval_best/loss": train_loss,
        "train_eval_best/acc": train_acc,
        "test/n": float(len(target)),
        "gap/acc": train_acc - test_acc,
        "gap/loss": test_loss - train_loss,
    }


def run_data_node(cfg: DictConfig) -> Any:
    """The data config to test on: the run's own (`config_resolved.yaml` beside the checkpoint's
    folder, read as plain values and every `_target_` in it checked against the exact allow-list
    before anything is built) unless the command line chose `data=...`; `data.key=value`
    overrides still win."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from biaslab.run.checks import read_run_config

    task = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    if any(o.lstrip("+~").startswith("data=") for o in task):
        return cfg.data
    own = read_run_config(Path(str(cfg.ckpt_path)).resolve().parent.parent).get("data")
    if not own:
        return cfg.data
    if not isinstance(own, dict):
        raise ConfigError(
            f"data in the run config beside ckpt_path={cfg.ckpt_path} is not a config; pass "
            "data=<name>."
        )
    node = OmegaConf.create(own)
    edits = [o.lstrip("+") for o in task if o.lstrip("+").startswith("data.")]
    return OmegaConf.merge(node, OmegaConf.from_dotlist([e[len("data.") :] for e in edits]))


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """`src/eval.py`: test the checkpoint at cfg.ckpt_path; the model is rebuilt from its own
    hparams, the data from its run's config unless the command line names other data."""
    from hydra.utils import instantiate

    from biaslab.run.build import explained
    from biaslab.run.checks import check_data_fits, load_checked_model
    from biaslab.run.loggers import eval_loggers
    from biaslab.utils.config import print_config_tree
    from biaslab.utils.wandb_run import finish_wandb

    checkpoint, model = load_checked_model(cfg.ckpt_path)  # checked, then built: nothing else
    run_dir = RunDir(cfg.paths.output_dir)
    run_dir.path.mkdir(parents=True, exist_ok=True)
    print_config_tree(cfg, save_to=run_dir.config_tree, show=bool(cfg.extras.get("print_config")))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    with explained(cfg):
        datamodule = instantiate(run_data_node(cfg))
    check_data_fits(checkpoint, datamodule)
    loggers = eval_loggers(cfg, run_dir.path)  # W&B: in the tested run's group
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    try:
        trainer.test(model, datamodule=datamodule)
    finally:
        finish_wandb()
    return scalars(trainer.callback_metrics)
