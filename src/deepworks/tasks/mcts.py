"""Monte-Carlo tree search guided by a policy-value network (AlphaZero's PUCT).

Each simulation walks down the tree choosing the move with the best Q + U (U: the network's
prior, scaled by how little the move was tried), asks the network for a new leaf's move
priors and value, and backs that value up with the sign flipping every ply. The visit counts
at the root are the search's policy. Randomness (the root's Dirichlet noise) comes from
torch's generator, so a resumed run searches exactly as the uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from deepworks.modalities.environment.games import Game

# (board, player to move) → (priors over the game's moves, value for the player to move)
Evaluate = Callable[[tuple[int, ...], int], tuple[np.ndarray, float]]


class Node:
    __slots__ = ("children", "prior", "total", "visits")

    def __init__(self, prior: float) -> None:
        self.prior, self.visits, self.total = prior, 0, 0.0  # total: for who moved here
        self.children: dict[int, Node] = {}

    def q(self) -> float:
        return self.total / self.visits if self.visits else 0.0


def _puct(child: Node, scale: float) -> float:
    """The child's value so far plus its prior, weighed by how little it was tried."""
    return child.q() + scale * child.prior / (1 + child.visits)


def split(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A policy-value network's output → (move logits, value)."""
    return out[..., :-1], out[..., -1]


def network_evaluator(model: torch.nn.Module, game: Game) -> Evaluate:
    """The network's priors (legal moves only, renormalized) and value, memoized per
    position: the network does not change during one game (make one per game)."""
    memo: dict[tuple, tuple[np.ndarray, float]] = {}

    @torch.inference_mode()
    def evaluate(board: tuple[int, ...], player: int) -> tuple[np.ndarray, float]:
        if (board, player) not in memo:
            view = torch.as_tensor(game.view(board, player)).unsqueeze(0)
            logits, value = split(model(view))
            mask = torch.full((game.moves,), -math.inf)
            mask[game.legal(board)] = 0.0
            memo[(board, player)] = ((logits[0] + mask).softmax(-1).numpy(), float(value[0]))
        return memo[(board, player)]

    return evaluate


def search(
    game: Game,
    board: tuple[int, ...],
    player: int,
    evaluate: Evaluate,
    simulations: int,
    c_puct: float = 1.5,
    noise: tuple[float, float] | None = None,
) -> np.ndarray:
    """Visit counts of the root's moves after ``simulations``; ``noise`` = (Dirichlet alpha,
    share) mixes exploration into the root's priors (self-play only)."""
    root = Node(1.0)
    priors, _ = evaluate(board, player)
    legal = game.legal(board)
    if noise:
        alpha, share = noise
        drawn = torch.distributions.Dirichlet(torch.full((len(legal),), alpha)).sample().numpy()
        priors = priors.copy()
        priors[legal] = (1 - share) * priors[legal] + share * drawn
    root.children = {m: Node(float(priors[m])) for m in legal}
    root.visits = 1
    for _ in range(simulations):
        node, b, p, path = root, board, player, [root]
        while node.children:  # down the tree, to a leaf
            scale = c_puct * math.sqrt(node.visits)
            move, node = max(node.children.items(), key=lambda kv: _puct(kv[1], scale))
            b, p = game.play(b, move, p), -p
            path.append(node)
        won = game.winner(b)
        if won is None:  # expand: the network values the leaf for its mover
            leaf_priors, value = evaluate(b, p)
            node.children = {m: Node(float(leaf_priors[m])) for m in game.legal(b)}
        else:
            value = float(won * p)  # the last mover won (-1 for the mover now) or a draw
        for n in reversed(path):  # each node's total is for the player who moved into it
            value = -value
            n.visits += 1
            n.total += value
    counts = np.zeros(game.moves, dtype=np.float32)
    for move, child in root.children.items():
        counts[move] = child.visits
    return counts
