"""A position-sensitive board task (B.5, AlphaGo's "no pooling"): generated Go-like boards.

A board of size x size cells holds black and white stones (planes 0 and 1 of a (2, S, S) input).
The label is 1 when more black stones stand on dark cells of a checkerboard ((row + col) even)
than on light ones: moving one black stone by one cell, in any direction, moves it to the other
colour, and can flip the label. White stones are distractors. The number of black stones is odd,
so there are no ties. Translation-invariant features cannot tell dark from light; a head that
keeps every position can, unless pooling has merged neighbouring cells first.
"""

from __future__ import annotations

import torch

from biaslab.data.base import GeneratedDataModule, Split


def board_label(black: torch.Tensor) -> torch.Tensor:
    """(n, S, S) 0/1 black stones -> (n,) labels: 1 if more on dark ((r + c) even) cells."""
    s = black.shape[-1]
    dark = (torch.arange(s).unsqueeze(1) + torch.arange(s).unsqueeze(0)) % 2 == 0
    on_dark = (black * dark).flatten(1).sum(1)
    on_light = (black * ~dark).flatten(1).sum(1)
    return (on_dark > on_light).long()


def generate_boards(n: int, size: int, max_black: int, white: int, seed: int) -> Split:
    """n boards (n, 2, S, S) float with 1..max_black (odd) black and `white` white stones."""
    g = torch.Generator().manual_seed(seed)
    cells = size * size
    order = torch.rand(n, cells, generator=g).argsort(dim=1)  # distinct cells per board
    n_black = 2 * torch.randint(0, (max_black + 1) // 2, (n,), generator=g) + 1
    rank = torch.arange(cells).expand(n, cells)
    black = torch.zeros(n, cells).scatter(1, order, (rank < n_black.unsqueeze(1)).float())
    is_white = (rank >= n_black.unsqueeze(1)) & (rank < n_black.unsqueeze(1) + white)
    white_plane = torch.zeros(n, cells).scatter(1, order, is_white.float())
    boards = torch.stack([black, white_plane], dim=1).view(n, 2, size, size)
    return boards, board_label(boards[:, 0])


class BoardDataModule(GeneratedDataModule):
    """Generated boards (see the module docstring): inputs (B, 2, S, S), targets (B,) in {0, 1}."""

    modality = "image"

    def __init__(
        self,
        size: int = 9,
        max_black: int = 9,
        white: int = 10,
        num_train: int = 4000,
        num_val: int = 1000,
        num_test: int = 1000,
        **kwargs,
    ) -> None:
        super().__init__(num_train, num_val, num_test, **kwargs)
        if size < 2 or not max_black >= 1 or max_black + white > size * size:
            raise ValueError(
                f"data.size={size}, data.max_black={max_black}, data.white={white}: a board needs "
                "size >= 2, max_black >= 1 and room for every stone (max_black + white <= size^2)."
            )
        if tuple(self.input_shape) != (2, size, size):
            raise ValueError(
                f"data.input_shape={list(self.input_shape)} must be [2, size, size] = [2, {size}, {size}]."
            )
        self.size, self.max_black, self.white = size, max_black, white

    def generate(self, split: str, n: int, seed: int) -> Split:
        return generate_boards(n, self.size, self.max_black, self.white, seed)
