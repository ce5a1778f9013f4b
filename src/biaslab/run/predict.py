"""Using a trained model outside the lab: per-example predictions (`predict`) and an exported
model (`export`) whose outputs match the checkpoint's logits.

Every file read here is data: the checkpoint and the run's `config_resolved.yaml` pass the exact
allow-list of `biaslab.schema` before anything is built, an `.npy` input is read without pickles
and must hold finite values of the model's input shape and kind, or the command says so in one
sentence."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from biaslab.errors import ConfigError, reason_of

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def load_model(ckpt_path: str) -> Any:
    """The checkpoint's model in eval mode on the CPU (checked, weights only: no code runs)."""
    from biaslab.run.checks import load_checked_model

    return load_checked_model(ckpt_path)[1]


def model_input(hparams: dict[str, Any]) -> tuple[list[int], int | None]:
    """(input shape without the batch, vocabulary or None) a checkpoint's model was built for."""
    return [int(n) for n in hparams.get("input_shape") or []], hparams.get("vocab_size")


def checked_array(array: np.ndarray, hparams: dict[str, Any], key: str) -> torch.Tensor:
    """An input array (N, *input_shape) as the model's tensor: float32 for images, graphs and
    tables; int64 token ids in [0, vocab) for sequences (whose length may differ from the
    training length). Anything else is one sentence naming `key`."""
    shape, vocab = model_input(hparams)
    want = f"(N, {', '.join(map(str, [*shape[:-1], 'L'] if vocab else shape))})"
    kind = "integer token ids" if vocab else "floating-point values"
    if (
        array.ndim != len(shape) + 1
        or len(array) == 0
        or (
            list(array.shape[1:]) != shape and not (vocab and list(array.shape[1:-1]) == shape[:-1])
        )
    ):
        raise ConfigError(
            f"{key} has shape {list(array.shape)} but the model takes {want} with N >= 1; pass "
            f"an array of {kind} of that shape."
        )
    integer = np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_
    floating = np.issubdtype(array.dtype, np.floating)
    if not (integer if vocab else floating):
        raise ConfigError(
            f"{key} holds {array.dtype} values but the model takes {kind}; pass an array of "
            f"{'int64 ids in [0, ' + str(vocab) + ')' if vocab else 'float32'} values."
        )
    if floating and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise ConfigError(
            f"{key} holds {bad} NaN or infinite values of {array.size}; pass finite inputs."
        )
    if vocab and (array.min() < 0 or array.max() >= int(vocab)):
        raise ConfigError(
            f"{key} holds token ids outside [0, {vocab}) (from {array.min()} to {array.max()}); "
            f"pass ids the model's vocabulary of {vocab} has."
        )
    return torch.from_numpy(array.astype(np.int64 if vocab else np.float32))


def read_array(path: Path, hparams: dict[str, Any]) -> torch.Tensor:
    """An `.npy` file read as data (no pickles) and checked by `checked_array`."""
    key = f"input={path}"
    try:
        array = np.load(path, allow_pickle=False)  # data, never code
    except (OSError, ValueError, EOFError) as err:
        reason = reason_of(err)
        raise ConfigError(
            f"{key} is not a readable .npy array ({reason}); pass an array saved by numpy.save "
            "(numbers, not objects)."
        ) from err
    if not isinstance(array, np.ndarray):
        raise ConfigError(f"{key} holds no single array; pass one saved by numpy.save.")
    return checked_array(array, hparams, key)


def run_data(cfg: DictConfig, checkpoint: dict[str, Any]) -> Any:
    """The run's own data (its checked `config_resolved.yaml`, or `data=...`), set up and
    checked against the checkpoint's inputs and classes."""
    from hydra.utils import instantiate

    from biaslab.run.build import explained
    from biaslab.run.checks import check_data_fits
    from biaslab.run.evaluate import run_data_node

    with explained(cfg):
        datamodule = instantiate(run_data_node(cfg))
        datamodule.setup("fit")
    check_data_fits(checkpoint, datamodule)
    return datamodule


def read_images(path: Path, datamodule: Any) -> tuple[torch.Tensor, list[str]]:
    """A folder of images through the run's own eval transform: (inputs, relative names)."""
    if not hasattr(datamodule, "_transform"):
        raise ConfigError(
            f"input={path} is a folder of images, but this run's data has no image transform "
            "to apply; pass an .npy array of inputs, or leave input unset to predict a split."
        )
    from PIL import Image

    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"input={path} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    transform, images = datamodule._transform(False), []
    for file in files:
        try:
            with Image.open(file) as image:
                images.append(transform(image.convert("RGB")))
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"input={path} holds {file.name}, which is not a readable image; remove it."
            ) from err
    return torch.stack(images), [str(p.relative_to(path)) for p in files]


def inputs_of(
    cfg: DictConfig, checkpoint: dict[str, Any]
) -> tuple[torch.Tensor, list[str], torch.Tensor | None]:
    """(inputs, a name per example, targets or None) from `input` (an .npy array or a folder of
    images) or, unset, the run's data split `split`."""
    source = cfg.get("input")
    hparams = checkpoint.get("hyper_parameters") or {}
    if source is None:
        split = str(cfg.split)
        if split not in ("train", "val", "test"):
            raise ConfigError(f"split={split}: choose train, val or test.")
        xs, ys = zip(*run_data(cfg, checkpoint).eval_batches(split))
        inputs, targets = torch.cat(xs), torch.cat(ys)
        return inputs, [f"{split}/{i}" for i in range(len(inputs))], targets
    path = Path(str(source))
    if path.is_dir():
        inputs, names = read_images(path, run_data(cfg, checkpoint))
        return inputs, names, None
    if path.suffix.lower() == ".npy":
        tensor = read_array(path, hparams)
        return tensor, [f"{path.name}[{i}]" for i in range(len(tensor))], None
    raise ConfigError(f"input={source} is neither an .npy file nor a folder; pass one of them.")


def logits_of(model: Any, inputs: torch.Tensor, batch_size: int, key: str) -> torch.Tensor:
    """The model's logits, batch by batch; a shape the model cannot take, or non-finite logits
    (NaN weights), is one sentence."""
    try:
        with torch.no_grad():
            logits = torch.cat([model(b) for b in inputs.split(max(1, batch_size))])
    except (RuntimeError, ValueError, IndexError) as err:
        reason = reason_of(err)
        raise ConfigError(
            f"the model cannot run on {key} of shape {list(inputs.shape)} ({reason}); pass "
            "inputs of the shape it was trained on."
        ) from err
    if not torch.isfinite(logits).all():
        raise ConfigError(
            f"the model's outputs on {key} are not finite (NaN or infinite weights in "
            "ckpt_path); pass a checkpoint of a run that did not diverge."
        )
    return logits


def predict(cfg: DictConfig) -> Path:
    """Write `out`: one row per example (per token for labelling tasks) with its name, the
    predicted class, its probability, every class's probability and the target when known."""
    from biaslab.run.checks import load_checked_model

    checkpoint, model = load_checked_model(str(cfg.ckpt_path))
    inputs, names, targets = inputs_of(cfg, checkpoint)
    key = f"input={cfg.input}" if cfg.get("input") is not None else f"split={cfg.split}"
    logits = logits_of(model, inputs, int(cfg.batch_size), key)
    if logits.dim() == 3:  # a label per token: one row per (example, position)
        names = [f"{n}@{t}" for n in names for t in range(logits.shape[1])]
        logits = logits.flatten(0, 1)
        targets = targets.flatten() if targets is not None else None
    probs = logits.float().softmax(-1)
    out = Path(str(cfg.out))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        k = probs.shape[1]
        writer.writerow(
            ["example", "pred", "prob", *(["target"] if targets is not None else [])]
            + [f"p{c}" for c in range(k)]
        )
        for i, (name, row) in enumerate(zip(names, probs)):
            pred = int(row.argmax())
            cells = [name, pred, f"{float(row[pred]):.6f}"]
            cells += [int(targets[i])] if targets is not None else []
            writer.writerow(cells + [f"{float(p):.6f}" for p in row])
    return out


def synthetic_example(hparams: dict[str, Any], n: int = 4) -> torch.Tensor:
    """`n` inputs of the checkpoint's own input shape (uniform [0, 1) values, or token ids of its
    vocabulary), for an export when no run config or input names the data."""
    shape, vocab = model_input(hparams)
    generator = torch.Generator().manual_seed(0)
    if vocab:
        return torch.randint(0, int(vocab), (n, *shape), generator=generator)
    return torch.rand((n, *shape), generator=generator)


def export_example(cfg: DictConfig, checkpoint: dict[str, Any]) -> torch.Tensor:
    """A few inputs to trace and check the export with: `input`, else the run's data (its
    `config_resolved.yaml`, or `data=...`), else inputs of the checkpoint's own shape."""
    from hydra.core.hydra_config import HydraConfig

    from biaslab.run.checks import read_run_config

    task = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    chosen = any(o.lstrip("+~").startswith("data") for o in task)
    run_dir = Path(str(cfg.ckpt_path)).resolve().parent.parent
    if cfg.get("input") is None and not chosen and not read_run_config(run_dir).get("data"):
        return synthetic_example(checkpoint.get("hyper_parameters") or {})
    return inputs_of(cfg, checkpoint)[0][:4]


def export_run(cfg: DictConfig) -> Path:
    """`src/export.py`: the checkpoint at cfg.ckpt_path exported in `format` to `out` (default
    <run dir>/model.pt2 or model.onnx)."""
    from biaslab.run.checks import load_checked_model

    checkpoint, model = load_checked_model(str(cfg.ckpt_path))
    fmt = str(cfg.format)
    if fmt not in ("torch_export", "onnx"):
        raise ConfigError(f"format={fmt!r}: choose torch_export or onnx.")
    suffix = {"torch_export": "pt2", "onnx": "onnx"}[fmt]
    out = Path(str(cfg.out or Path(cfg.paths.output_dir) / f"model.{suffix}"))
    example = export_example(cfg, checkpoint)
    logits_of(model, example, len(example), "the example inputs")  # runs, and finite
    return export(model, fmt, out, example)


def export(model: Any, fmt: str, out: Path, example: torch.Tensor) -> Path:
    """The network of `model` (a checked, loaded Classifier) as a standalone file:
    `torch_export` (torch.export, .pt2) or `onnx` (needs the onnx package); checked here
    against the model's logits on `example` (max difference <= 1e-4), or one sentence."""
    net = model.net
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        want = net(example)
        if fmt == "torch_export":
            batch = ({0: torch.export.Dim.AUTO},)  # any batch size, not the example's
            program = torch.export.export(net, (example,), dynamic_shapes=batch)
            torch.export.save(program, out)
            got = torch.export.load(out).module()(example)
        elif fmt == "onnx":
            try:
                import onnxruntime
            except ImportError as err:
                raise ConfigError(
                    "format=onnx needs onnx and onnxruntime (pip install onnx onnxscript "
                    "onnxruntime); or pass format=torch_export."
                ) from err
            batch = ({0: torch.export.Dim.AUTO},)
            torch.onnx.export(net, (example,), str(out), dynamo=True, dynamic_shapes=batch)
            session = onnxruntime.InferenceSession(str(out))
            name = session.get_inputs()[0].name
            got = torch.from_numpy(session.run(None, {name: example.numpy()})[0])
        else:
            raise ConfigError(f"format={fmt!r}: choose torch_export or onnx.")
    diff = float((got - want).abs().max())
    if not math.isfinite(diff) or diff > 1e-4:
        raise ConfigError(
            f"the exported model's logits differ from the checkpoint's by {diff:.2g} (> 1e-4); "
            "report it, and use the checkpoint."
        )
    return out
