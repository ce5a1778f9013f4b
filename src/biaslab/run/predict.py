"""Using a trained model outside the lab: per-example predictions (`predict`) and an exported
model (`export`) whose outputs match the checkpoint's logits."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from biaslab.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def load_model(ckpt_path: str) -> Any:
    """The checkpoint's model in eval mode on the CPU (weights only: no code runs)."""
    from biaslab.module import Classifier
    from biaslab.run.checks import read_checkpoint

    read_checkpoint(ckpt_path)
    return Classifier.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True).eval()


def inputs_of(cfg: DictConfig) -> tuple[torch.Tensor, list[str], torch.Tensor | None]:
    """(inputs, a name per example, targets or None) from `input` (an .npy array or a folder of
    images) or, unset, the run's data split `split`."""
    from hydra.utils import instantiate

    from biaslab.run.evaluate import run_data_node

    source = cfg.get("input")
    if source is None or Path(str(source)).is_dir():
        datamodule = instantiate(run_data_node(cfg))
        datamodule.setup("fit")
    if source is None:
        xs, ys = zip(*datamodule.eval_batches(str(cfg.split)))
        inputs, targets = torch.cat(xs), torch.cat(ys)
        return inputs, [f"{cfg.split}/{i}" for i in range(len(inputs))], targets
    path = Path(str(source))
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)  # data, never code
        tensor = torch.from_numpy(array)
        tensor = tensor.float() if tensor.is_floating_point() else tensor.long()
        return tensor, [f"{path.name}[{i}]" for i in range(len(tensor))], None
    if path.is_dir():
        if not hasattr(datamodule, "_transform"):
            raise ConfigError(
                f"input={path} is a folder of images, but this run's data has no image transform "
                "to apply; pass an .npy array of inputs, or leave input unset to predict a split."
            )
        from PIL import Image

        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        transform = datamodule._transform(False)
        images = [transform(Image.open(p).convert("RGB")) for p in files]
        return torch.stack(images), [str(p.relative_to(path)) for p in files], None
    raise ConfigError(f"input={source} is neither an .npy file nor a folder; pass one of them.")


def predict(cfg: DictConfig) -> Path:
    """Write `out`: one row per example (per token for labelling tasks) with its name, the
    predicted class, its probability, every class's probability and the target when known."""
    model = load_model(str(cfg.ckpt_path))
    inputs, names, targets = inputs_of(cfg)
    with torch.no_grad():
        logits = torch.cat([model(b) for b in inputs.split(int(cfg.batch_size))])
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


def export(ckpt_path: str, fmt: str, out: Path, example: torch.Tensor) -> Path:
    """The checkpoint's network as a standalone file: `torch_export` (torch.export, .pt2) or
    `onnx` (needs the onnx package); checked here against the checkpoint's logits on `example`
    (max difference <= 1e-4), or one sentence."""
    model = load_model(ckpt_path).net
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        want = model(example)
        if fmt == "torch_export":
            batch = ({0: torch.export.Dim.AUTO},)  # any batch size, not the example's
            program = torch.export.export(model, (example,), dynamic_shapes=batch)
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
            torch.onnx.export(model, (example,), str(out), dynamo=True, dynamic_shapes=batch)
            session = onnxruntime.InferenceSession(str(out))
            name = session.get_inputs()[0].name
            got = torch.from_numpy(session.run(None, {name: example.numpy()})[0])
        else:
            raise ConfigError(f"format={fmt!r}: choose torch_export or onnx.")
    diff = float((got - want).abs().max())
    if diff > 1e-4:
        raise ConfigError(
            f"the exported model's logits differ from the checkpoint's by {diff:.2g} (> 1e-4); "
            "report it, and use the checkpoint."
        )
    return out
