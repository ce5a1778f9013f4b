"""Graph backbones for node classification (C.7): inputs (B, N, F + N), the N nodes' F features
then the N x N adjacency (`biaslab.data.graphs`); outputs (B, N, dim), one vector per node, for
`pooling=tokens`.

`GraphAttention` is the transformer encoder on node tokens; with `mask=edges` the adjacency
becomes the additive attention mask (0 on an edge, -inf elsewhere), so a node attends only to its
neighbours (and itself): a graph attention network (Velickovic et al. 2018) in the encoder's own
terms. `mask=none` is the same net attending to every node. `NodeMLP` sees each node's features
alone, the baseline that ignores the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.backbone import AttentionBackbone, Backbone
from biaslab.models.checks import check_rates, check_sizes

MASKS = ("edges", "none")


def graph_shape(input_shape: Sequence[int], family: str) -> tuple[int, int]:
    """(nodes N, features F) from data.input_shape = [N, F + N], or one sentence."""
    if len(input_shape) != 2 or int(input_shape[1]) <= int(input_shape[0]):
        raise ValueError(
            f"model={family} needs graphs, data.input_shape=[nodes, features + nodes], but got "
            f"{list(input_shape)}; use data=graph_sbm."
        )
    nodes = int(input_shape[0])
    return nodes, int(input_shape[1]) - nodes


def adjacency_mask(adjacency: torch.Tensor) -> torch.Tensor:
    """(B, N, N) 0/1 adjacency -> (B, 1, N, N) additive mask: 0 on edges, -inf elsewhere."""
    mask = torch.zeros_like(adjacency).masked_fill(adjacency <= 0, float("-inf"))
    return mask.unsqueeze(1)


class GraphAttention(AttentionBackbone):
    """(B, N, F + N) graphs -> (B, N, dim): node features -> linear -> encoder, attention masked
    to the graph's edges (`mask=edges`) or to no mask (`mask=none`). Nodes have no order: no PE."""

    emits = "set"  # nodes have no order
    modalities = ("graph",)
    uses_pe = False
    permutable = False  # permuting node tokens would need the adjacency permuted too

    def __init__(
        self,
        input_shape: Sequence[int],
        dim: int = 32,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        mask: str = "edges",
        norm_first: bool = True,
        score: str = "dot",
    ) -> None:
        super().__init__()
        check_sizes(dim=dim, depth=depth, heads=heads)
        check_rates(dropout=dropout)
        if mask not in MASKS:
            raise ValueError(f"mask={mask!r}: choose one of {MASKS}.")
        self.nodes, self.features = graph_shape(input_shape, "graph_attn")
        self.mask = mask
        self.node_embed = nn.Linear(self.features, dim)
        self.build_encoder((self.nodes,), {**locals(), "pe": None})

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.node_embed(inputs[..., : self.features])

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        mask = adjacency_mask(inputs[..., self.features :]) if self.mask == "edges" else None
        return self.encoder(self.embed(inputs), attn_mask=mask)


class NodeMLP(Backbone):
    """(B, N, F + N) graphs -> (B, N, hidden[-1]): an MLP on each node's own features; the
    adjacency is ignored (the baseline without the graph)."""

    emits = "set"  # nodes have no order
    modalities = ("graph",)

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        self.nodes, self.features = graph_shape(input_shape, "node_mlp")
        layers: list[nn.Module] = []
        width = self.features
        for out in hidden:
            layers += [nn.Linear(width, out), nn.ReLU()]
            width = out
        self.mlp = nn.Sequential(*layers)
        self.num_features = width

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.mlp(inputs[..., : self.features])
