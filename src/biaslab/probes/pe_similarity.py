"""Cosine similarity between positional vectors, read through the backbone contract."""

from __future__ import annotations

import math

import lightning as L
import torch

from biaslab.probes.base import Probe, preload_plotting, pyplot


class PESimilarity(Probe):
    """The (N, N) cosine similarity of the PE's added vectors, N = prod(backbone.token_grid),
    as built (fit start) and as trained (fit end). Skipped for backbones without a PE and for
    PEs that add nothing to the tokens (RoPE, ALiBi act inside attention)."""

    def __init__(self) -> None:
        self.at_start: torch.Tensor | None = None

    @staticmethod
    def table(backbone: torch.nn.Module) -> torch.Tensor | None:
        if not backbone.uses_pe or backbone.token_grid is None:
            return None
        pe = backbone.encoder.pe
        n, dim = math.prod(backbone.token_grid), backbone.num_features
        device = next(backbone.parameters()).device
        with torch.no_grad():
            zeros = torch.zeros(1, n, dim, device=device)
            vectors = pe.add(zeros)[0]
        if not vectors.any():
            return None
        return torch.nn.functional.cosine_similarity(vectors[:, None], vectors[None], dim=-1)

    def _save(self, trainer: L.Trainer, sim: torch.Tensor | None, when: str) -> None:
        if sim is None:
            return
        rows = [
            {"i": i, "j": j, "cosine": float(sim[i, j])}
            for i in range(len(sim))
            for j in range(len(sim))
        ]
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(4, 4))
        im = ax.imshow(sim.cpu(), cmap="coolwarm", vmin=-1, vmax=1)
        ax.set_title(f"PE cosine similarity ({when})")
        fig.colorbar(im)
        self.save(trainer, f"pe_similarity_{when}", rows, fig)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preload_plotting()
        self.at_start = self.table(pl_module.net.backbone)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, self.at_start, "start")
        self._save(trainer, self.table(pl_module.net.backbone), "end")
