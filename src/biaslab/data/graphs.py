"""Node classification on generated graphs: stochastic block models with noisy node features.

Each example is one graph of `nodes` nodes in `communities` equal blocks; a node's label is its
block. Its features are the one-hot block (padded to `feature_dim`) plus Gaussian noise of
`noise` std, so features alone classify a node only partly, and a node's neighbours, mostly of its
own block when `homophily` is high, carry the rest: the case for attention restricted to edges
(C.7). Expected degree `degree`; `homophily` = expected share of a node's edges inside its block.
Inputs (n, N, F + N) float: the N x F features, then the N x N adjacency (symmetric, with self
loops); targets (n, N): one label per node (pooling=tokens).
"""

from __future__ import annotations

import torch

from biaslab.data.base import GeneratedDataModule, Split


def stochastic_block_graphs(
    n: int,
    nodes: int,
    communities: int,
    feature_dim: int,
    degree: float,
    homophily: float,
    noise: float,
    seed: int,
) -> Split:
    """n graphs: inputs (n, nodes, feature_dim + nodes), labels (n, nodes)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(nodes) * communities // nodes  # equal blocks, in order
    labels = labels[torch.rand(n, nodes, generator=g).argsort(dim=1)]  # shuffled per graph
    block = nodes / communities
    p_in = min(1.0, homophily * degree / max(block - 1, 1))
    p_out = min(1.0, (1 - homophily) * degree / max(nodes - block, 1))
    same = labels.unsqueeze(2) == labels.unsqueeze(1)  # (n, N, N)
    edge = torch.rand(n, nodes, nodes, generator=g) < torch.where(same, p_in, p_out)
    adjacency = torch.triu(edge, diagonal=1)
    adjacency = (adjacency | adjacency.transpose(1, 2) | torch.eye(nodes, dtype=torch.bool)).float()
    features = torch.zeros(n, nodes, feature_dim)
    features.scatter_(2, labels.unsqueeze(2), 1.0)
    features += noise * torch.randn(n, nodes, feature_dim, generator=g)
    return torch.cat([features, adjacency], dim=2), labels


class GraphDataModule(GeneratedDataModule):
    """Stochastic-block-model graphs for node classification (see the module docstring)."""

    modality = "graph"
    labels_per_token = True

    def __init__(
        self,
        nodes: int = 24,
        communities: int = 3,
        feature_dim: int = 8,
        degree: float = 4.0,
        homophily: float = 0.8,
        noise: float = 1.0,
        num_train: int = 2000,
        num_val: int = 500,
        num_test: int = 500,
        **kwargs,
    ) -> None:
        super().__init__(num_train, num_val, num_test, **kwargs)
        if not 0.0 <= homophily <= 1.0:
            raise ValueError(f"data.homophily={homophily} is a share of edges: pick 0 to 1.")
        if not 2 <= communities <= nodes or feature_dim < communities:
            raise ValueError(
                f"data.communities={communities} needs 2 <= communities <= data.nodes={nodes} "
                f"and data.feature_dim={feature_dim} >= communities (features hold the one-hot block)."
            )
        if tuple(self.input_shape) != (nodes, feature_dim + nodes):
            raise ValueError(
                f"data.input_shape={list(self.input_shape)} must be [nodes, feature_dim + nodes] = "
                f"[{nodes}, {feature_dim + nodes}]."
            )
        self.graph = dict(
            nodes=nodes,
            communities=communities,
            feature_dim=feature_dim,
            degree=degree,
            homophily=homophily,
            noise=noise,
        )

    def generate(self, split: str, n: int, seed: int) -> Split:
        return stochastic_block_graphs(n, **self.graph, seed=seed)
