"""Board games for self-play: tic-tac-toe and Connect Four as one k-in-a-row game, and a
minimax player (alpha-beta, memoized) — perfect play at tic-tac-toe, depth-limited at Connect
Four.

A position is a flat tuple of cells (+1 the first player's stones, -1 the second's, 0 empty)
with the player to move; a network sees it from the mover's side (``view``: +1 its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from operator import itemgetter

import numpy as np


@dataclass(frozen=True)
class Game:
    name: str
    rows: int
    cols: int
    connect: int
    gravity: bool  # stones fall to the lowest free cell of a column (Connect Four)
    judge_depth: int | None = None  # the minimax judge's plies (None: to the end, perfect)

    @property
    def moves(self) -> int:
        return self.cols if self.gravity else self.rows * self.cols

    def start(self) -> tuple[int, ...]:
        return (0,) * (self.rows * self.cols)

    def legal(self, board: tuple[int, ...]) -> list[int]:
        if self.gravity:
            return [c for c in range(self.cols) if board[c] == 0]  # row 0 is the top
        return [i for i, v in enumerate(board) if v == 0]

    def play(self, board: tuple[int, ...], move: int, player: int) -> tuple[int, ...]:
        cells = list(board)
        if self.gravity:
            row = max(r for r in range(self.rows) if cells[r * self.cols + move] == 0)
            cells[row * self.cols + move] = player
        else:
            cells[move] = player
        return tuple(cells)

    def winner(self, board: tuple[int, ...]) -> int | None:
        """+1 or -1 for a player with `connect` in a row, 0 for a full board, else None."""
        return _winner(self, board)

    def view(self, board: tuple[int, ...], player: int) -> np.ndarray:
        """The board as ``player`` sees it: +1 its stones, -1 the opponent's, 0 empty."""
        return np.asarray(board, dtype=np.float32) * player

    def symmetries(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The board's symmetries as (cell, move) permutations: a position's view ``v``
        looks like ``v[cells]`` under one, its move shares ``p`` like ``p[moves]``. Eight for a
        square board (rotations and reflections), the mirror image under gravity."""
        grid = np.arange(self.rows * self.cols).reshape(self.rows, self.cols)
        if self.gravity:
            return [(g.flatten(), g[0] % self.cols) for g in (grid, grid[:, ::-1])]
        turns = [np.rot90(g, k) for g in (grid, grid.T) for k in range(4)]
        return [(g.flatten(), g.flatten()) for g in turns]

    def show(self, board: tuple[int, ...]) -> str:
        marks = {1: "X", -1: "O", 0: "."}
        lines = [
            " ".join(marks[board[r * self.cols + c]] for c in range(self.cols))
            for r in range(self.rows)
        ]
        if self.gravity:
            lines.append(" ".join(str(c + 1) for c in range(self.cols)))
        return "\n".join(lines)


@cache
def _lines(game: Game) -> list[itemgetter]:
    """Each line of ``connect`` cells, as a getter of its cells' stones from a board (one
    C call: the judge's search reads them millions of times)."""
    out = []
    for r in range(game.rows):
        for c in range(game.cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(game.connect)]
                if all(0 <= y < game.rows and 0 <= x < game.cols for y, x in cells):
                    out.append(itemgetter(*(y * game.cols + x for y, x in cells)))
    return out


def _winner(game: Game, board: tuple[int, ...]) -> int | None:
    for line in _lines(game):
        total = sum(line(board))
        if abs(total) == game.connect:
            return 1 if total > 0 else -1
    return 0 if 0 not in board else None


GAMES = {
    "tic-tac-toe": Game("tic-tac-toe", 3, 3, 3, gravity=False),
    "connect-four": Game("connect-four", 6, 7, 4, gravity=True, judge_depth=4),
}


@cache
def _memo(game: Game, depth: int | None) -> dict[tuple, float]:
    """Positions' values, shared by every player searching ``game`` to ``depth``: a value
    does not depend on who asks (only ties are broken by a player's own generator), and a
    judge is made for each game (without it, 100 tic-tac-toe games took 20 s of search)."""
    return {}


class Minimax:
    """Alpha-beta search to ``depth`` plies (None: to the end — perfect play), memoized;
    ties between equally good moves are broken at random by ``rng``. Beyond the depth, a
    position is scored by its open lines (a line holding only one player's stones)."""

    def __init__(self, game: Game, depth: int | None, rng: np.random.Generator) -> None:
        self.game, self.depth, self.rng = game, depth, rng
        self.memo = _memo(game, depth)

    def choose(self, board: tuple[int, ...], player: int) -> int:
        scores = {m: -self.value(self.game.play(board, m, player), -player, 1)
                  for m in self.game.legal(board)}  # fmt: skip
        best = max(scores.values())
        return int(self.rng.choice([m for m, s in scores.items() if s >= best - 1e-9]))

    def value(self, board: tuple[int, ...], player: int, ply: int) -> float:
        """The position's worth for ``player`` (to move): 1 won, -1 lost, 0 drawn, between
        for a heuristic guess; sooner wins count more."""
        key = (board, player, ply if self.depth else 0)
        if key not in self.memo:
            self.memo[key] = self._search(board, player, ply, -2.0, 2.0)
        return self.memo[key]

    def _search(self, board, player, ply, alpha, beta) -> float:
        won = self.game.winner(board)
        if won is not None:
            return won * player * (1 - 0.01 * ply) if won else 0.0
        if self.depth is not None and ply >= self.depth:
            return self._guess(board, player)
        best = -2.0
        for move in self.game.legal(board):
            score = -self._search(self.game.play(board, move, player), -player, ply + 1,
                                  -beta, -alpha)  # fmt: skip
            best, alpha = max(best, score), max(alpha, score)
            if alpha >= beta:
                break
        return best

    def _guess(self, board, player) -> float:
        open_lines = 0
        for line in _lines(self.game):
            stones = line(board)
            mine, theirs = stones.count(player), stones.count(-player)
            if not theirs:  # open for the player: its stones there count for it
                open_lines += mine
            elif not mine:
                open_lines -= theirs
        return float(np.tanh(open_lines / 20)) * 0.5
