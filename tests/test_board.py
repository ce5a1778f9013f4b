"""The position-sensitive board task (B.5): the label depends on exact cells."""

from __future__ import annotations

import torch

from biaslab.data.board import board_label, generate_boards


def test_moving_one_stone_by_one_cell_changes_the_label():
    board = torch.zeros(1, 9, 9)
    board[0, 4, 4] = 1  # a dark cell ((4 + 4) even): more black on dark -> 1
    assert board_label(board).tolist() == [1]
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        moved = torch.zeros(1, 9, 9)
        moved[0, 4 + dr, 4 + dc] = 1
        assert board_label(moved).tolist() == [0]
    # three stones: two dark, one light -> 1; move one dark stone a cell -> 0
    board = torch.zeros(1, 9, 9)
    board[0, 0, 0] = board[0, 2, 2] = board[0, 0, 1] = 1
    moved = board.clone()
    moved[0, 2, 2], moved[0, 2, 3] = 0, 1
    assert board_label(board).tolist() == [1] and board_label(moved).tolist() == [0]


def test_boards_have_odd_black_counts_white_distractors_and_balanced_labels():
    x, y = generate_boards(2000, 19, 21, 40, seed=0)
    assert x.shape == (2000, 2, 19, 19)
    black, white = x[:, 0].sum((1, 2)), x[:, 1].sum((1, 2))
    assert (black % 2 == 1).all() and black.max() <= 21 and (white == 40).all()
    assert ((x[:, 0] + x[:, 1]) <= 1).all()  # one stone per cell
    assert 0.45 < y.float().mean() < 0.55
    # shifting every stone by one cell flips every board's label (dark <-> light)
    shifted = torch.roll(x[:, 0], 1, dims=2)
    keep = x[:, 0, :, -1].sum(1) == 0  # boards without a stone on the wrapped column
    assert (board_label(shifted[keep]) != y[keep]).all()
