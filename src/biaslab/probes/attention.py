"""Attention maps per layer and head on a fixed batch, read through the backbone contract."""

from __future__ import annotations

import math

import lightning as L
import torch

from biaslab.probes.base import Probe, fixed_batch, pyplot


class AttentionMaps(Probe):
    """At the end of fit: attention weights per layer and head (`backbone.capture_attention`).

    Images: the attention each token of `backbone.token_grid` receives (averaged over queries)
    laid over the input; sequences: token x token matrices. CSV: per layer and head, the mean
    attention entropy and the mean distance (in tokens) between a query and what it attends to.
    """

    def __init__(self, n_examples: int = 4) -> None:
        self.n_examples = n_examples

    @torch.no_grad()
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        backbone = pl_module.net.backbone
        if not trainer.is_global_zero:
            return
        inputs, _ = fixed_batch(trainer, pl_module, "val", self.n_examples)
        was_training = pl_module.training
        pl_module.eval()
        with backbone.capture_attention() as maps:  # each (B, H, N, N)
            pl_module(inputs)
        pl_module.train(was_training)
        if not maps:
            return
        rows = []
        for layer, w in enumerate(maps):
            n = w.shape[-1]
            pos = torch.arange(n, device=w.device, dtype=w.dtype)
            distance = (w * (pos[None, :] - pos[:, None]).abs()).sum(-1).mean(dim=(0, 2))
            entropy = -(w * w.clamp_min(1e-12).log()).sum(-1).mean(dim=(0, 2))
            for head in range(w.shape[1]):
                rows.append(
                    {
                        "layer": layer,
                        "head": head,
                        "tokens": n,
                        "mean_distance": float(distance[head]),
                        "entropy": float(entropy[head]),
                    }
                )
        torch.save([w.cpu() for w in maps], self.out_dir(trainer) / "attention_maps.pt")
        self.save(trainer, "attention", rows, self._plot(maps, inputs, backbone.token_grid))

    @staticmethod
    def _plot(maps, inputs, grid):
        plt = pyplot()
        layers, heads = len(maps), maps[0].shape[1]
        fig, axes = plt.subplots(layers, heads, figsize=(2 * heads, 2 * layers), squeeze=False)
        for layer, w in enumerate(maps):
            for head in range(heads):
                ax = axes[layer][head]
                weights = w[0, head].float().cpu()
                n = weights.shape[-1]
                if (
                    inputs.dim() == 4
                    and grid is not None
                    and len(grid) == 2
                    and n >= math.prod(grid)
                ):
                    received = weights.mean(0)[-math.prod(grid) :].reshape(grid)  # grid tokens
                    image = inputs[0].float().mean(0).cpu()
                    ax.imshow(image, cmap="gray")
                    up = torch.nn.functional.interpolate(
                        received[None, None], size=image.shape, mode="nearest"
                    )[0, 0]
                    ax.imshow(up, cmap="inferno", alpha=0.5)
                else:
                    ax.imshow(weights, cmap="viridis")
                ax.set_title(f"L{layer} H{head}", fontsize=7)
                ax.axis("off")
        fig.tight_layout()
        return fig
