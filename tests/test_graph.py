"""Graph attention (C.7): the adjacency is the attention mask; SBM node-classification data."""

from __future__ import annotations

import torch

from biaslab.data.graphs import stochastic_block_graphs
from biaslab.models.graph import GraphAttention, NodeMLP


def test_the_graph_mask_blocks_attention_between_non_neighbours():
    x, _ = stochastic_block_graphs(3, 12, 3, 4, degree=3.0, homophily=0.8, noise=1.0, seed=0)
    adjacency = x[..., 4:]
    masked, full = (
        GraphAttention([12, 16], dim=16, heads=2),
        GraphAttention([12, 16], dim=16, heads=2, mask="none"),
    )
    full.load_state_dict(masked.state_dict())
    for net, blocked in ((masked, True), (full, False)):
        with net.capture_attention() as weights:
            net(x)
        assert len(weights) == 2
        for w in weights:  # (B, H, N, N)
            off_graph = w.masked_select((adjacency == 0).unsqueeze(1).expand_as(w))
            assert (off_graph.abs().max() == 0) if blocked else (off_graph.min() > 0)
    # with one layer a node's output depends on its neighbours only: change a non-neighbour
    one = GraphAttention([12, 16], dim=16, heads=2, depth=1).eval()
    i = 0
    far = int((adjacency[0, i] == 0).nonzero()[0])
    y = x.clone()
    y[0, far, :4] += 5.0
    with torch.no_grad():
        before, after = one(x)[0], one(y)[0]
    assert torch.allclose(before[i], after[i], atol=1e-5)
    assert not torch.allclose(before[far], after[far])


def test_sbm_homophily_sets_the_share_of_edges_inside_a_block_and_features_are_noisy_labels():
    def inside_share(h: float) -> float:
        x, y = stochastic_block_graphs(200, 30, 3, 6, degree=5.0, homophily=h, noise=0.5, seed=1)
        adj = x[..., 6:] - torch.eye(30)  # no self loops
        same = (y.unsqueeze(2) == y.unsqueeze(1)).float()
        return float((adj * same).sum() / adj.sum())

    assert inside_share(0.9) > 0.85 and inside_share(0.1) < 0.15
    x, y = stochastic_block_graphs(50, 30, 3, 6, degree=5.0, homophily=0.8, noise=0.5, seed=2)
    agree = float((x[..., :6].argmax(-1) == y).float().mean())
    assert 0.5 < agree < 0.95  # the features carry the block, but noisily
    assert torch.equal(x[..., 6:], x[..., 6:].transpose(1, 2))  # undirected
    assert NodeMLP([30, 36])(x).shape == (50, 30, 64)
