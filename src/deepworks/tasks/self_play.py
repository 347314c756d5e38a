"""Learning a board game by self-play, as AlphaZero does (Silver et al. 2018).

One training step is a round of ``data.batch_size`` games the network plays against itself,
each move chosen by Monte-Carlo tree search (``agent.simulations``, Dirichlet noise at the
root, the first ``agent.explore_moves`` moves drawn in proportion to the visits); every
position is kept with the search's visit shares and the game's outcome, and the network then
learns both (``agent.updates`` minibatches from the last ``agent.window`` positions).

It is judged by games it plays with its search against a random player and against minimax
(perfect play at tic-tac-toe; ``agent.minimax_depth`` plies at Connect Four), half of them
moving first: ``score`` is the mean points against minimax (1 a win, ½ a draw, 0 a loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task
from deepworks.modalities.environment.games import GAMES, Game, Minimax
from deepworks.tasks.mcts import network_evaluator, search, split

# The columns of an evaluation game's row, and the metrics made of them.
_COLUMNS = ("score_random", "lost_random", "won_random", "score", "lost_minimax", "won_minimax")


@dataclass
class SelfPlayParams:
    simulations: int = 64  # searches per move in self-play
    play_simulations: int = 200  # searches per move when it plays to win (judged, or a person)
    explore_moves: int = 2  # the first moves drawn in proportion to the visits
    dirichlet: float = 0.5  # the root noise's alpha
    noise_share: float = 0.25
    window: int = 50_000  # positions kept for learning (each in all its symmetries)
    updates: int = 32  # minibatches learned from after each round
    minibatch: int = 128
    minimax_depth: int | None = None  # the judge's plies; None: the game's (perfect play at
    # tic-tac-toe, 4 at Connect Four)


Player = Callable[[tuple[int, ...], int], int]


@register_task("self-play")
class SelfPlay(Task):
    """Self-play with tree search (AlphaZero): a policy-value network learns a board game."""

    Params = SelfPlayParams
    main_metric = "score"
    automatic_optimization = False
    evaluates_loss = False  # judged by its episodes (games)
    tags = frozenset({"acts", "plays"})
    lower_is_better = frozenset({"loss", "loss_rate_random", "loss_rate_minimax"})
    epoch_metrics = frozenset({"score", "loss_rate_minimax", "win_rate_random"})
    final_metric_names = ("random_score", "random_loss_rate_minimax")
    own_baselines = ("random",)
    data_hint = "a board game: dataset tic-tac-toe or connect-four"

    def __init__(self, schema) -> None:
        super().__init__(schema)
        self.game: Game = GAMES[schema.encoder["environment"]]
        self.positions: dict[str, torch.Tensor] = {}
        self.games_played = 0

    # -- training ----------------------------------------------------------------------
    def self_play(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """One game against itself: each position's view, the search's visit shares and the
        final outcome for the player who moved there."""
        p, game = self.params, self.game
        evaluate = network_evaluator(model, game)
        board, player, moves = game.start(), 1, 0
        views, shares, players = [], [], []
        while game.winner(board) is None:
            counts = search(game, board, player, evaluate, p.simulations,
                            noise=(p.dirichlet, p.noise_share))  # fmt: skip
            views.append(game.view(board, player))
            shares.append(counts / counts.sum())
            players.append(player)
            if moves < p.explore_moves:
                move = int(torch.multinomial(torch.from_numpy(counts), 1))
            else:
                move = int(counts.argmax())
            board, player, moves = game.play(board, move, player), -player, moves + 1
        won = game.winner(board)
        views_, shares_ = np.stack(views), np.stack(shares)
        turns = game.symmetries()  # the same game, turned and mirrored: as much to learn from
        return {
            "views": torch.as_tensor(np.concatenate([views_[:, c] for c, _ in turns])),
            "policy": torch.as_tensor(np.concatenate([shares_[:, m] for _, m in turns])),
            "outcome": torch.tensor([float(won * q) for q in players] * len(turns)),
        }

    def training_step(self, model: nn.Module, batch: Batch) -> float:
        p = self.params
        (optimizer,) = self.optimizers
        model.eval()
        for _ in range(len(batch)):
            self.remember(self.self_play(model))
        model.train()
        losses = []
        size = len(self.positions["views"])
        for _ in range(p.updates):
            idx = torch.randint(0, size, (min(p.minibatch, size),))
            logits, value = split(model(self.positions["views"][idx]))
            loss = F.mse_loss(value, self.positions["outcome"][idx]) + F.cross_entropy(
                logits, self.positions["policy"][idx]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    def remember(self, played: dict[str, torch.Tensor]) -> None:
        self.games_played += 1
        for key, value in played.items():
            kept = torch.cat([self.positions[key], value]) if key in self.positions else value
            self.positions[key] = kept[-self.params.window :]

    def epoch_record(self) -> dict[str, float]:
        return {"games": float(self.games_played)}

    def state_dict(self) -> dict[str, Any]:
        return {"positions": dict(self.positions), "games": self.games_played}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.positions, self.games_played = dict(state["positions"]), state["games"]

    # -- playing -----------------------------------------------------------------------
    def agent(self, model: nn.Module) -> Player:
        """The trained player: its network's search, the most visited move. One player for
        one game: it keeps the network's answers (the same network all game) from move to
        move."""
        evaluate = network_evaluator(model, self.game)

        def choose(board: tuple[int, ...], player: int) -> int:
            counts = search(self.game, board, player, evaluate, self.params.play_simulations)
            return int(counts.argmax())

        return choose

    def opponent(self, kind: str, seed: int) -> Player:
        rng = np.random.default_rng(seed)
        if kind == "random":
            return lambda board, player: int(rng.choice(self.game.legal(board)))
        depth = self.params.minimax_depth or self.game.judge_depth
        return Minimax(self.game, depth, rng).choose

    def match(self, first: Player, second: Player) -> int:
        """One game; the winner (+1 the first player, -1 the second, 0 a draw)."""
        board, player = self.game.start(), 1
        while (won := self.game.winner(board)) is None:
            move = (first if player == 1 else second)(board, player)
            board, player = self.game.play(board, move, player), -player
        return won

    def points(self, me: Player, seed: int, against: str) -> float:
        """1 won, ½ drawn, 0 lost: moving first on even seeds, second on odd ones."""
        other = self.opponent(against, seed)
        won = self.match(me, other) if seed % 2 == 0 else -self.match(other, me)
        return (won + 1) / 2

    # -- evaluation --------------------------------------------------------------------
    @torch.inference_mode()
    def evaluation_step(self, model: nn.Module, batch: Batch):
        rows = [self._judged(self.agent(model), int(seed)) for seed in batch.x]
        return None, torch.tensor(rows, dtype=torch.float32), torch.zeros(len(rows))

    def _judged(self, me: Player, seed: int) -> list[float]:
        row = []
        for against in ("random", "minimax"):
            points = self.points(me, seed, against)
            row += [points, float(points == 0), float(points == 1)]
        return row

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        from deepworks.metrics.streams import MeanColumn

        column = _COLUMNS.index
        return {
            "score": lambda: MeanColumn(column("score")),
            "score_random": lambda: MeanColumn(column("score_random")),
            "win_rate_random": lambda: MeanColumn(column("won_random")),
            "loss_rate_random": lambda: MeanColumn(column("lost_random")),
            "win_rate_minimax": lambda: MeanColumn(column("won_minimax")),
            "loss_rate_minimax": lambda: MeanColumn(column("lost_minimax")),
        }

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        if not self.scores_baseline("random"):
            return {}
        me = self.opponent("random", seed)
        points = np.array([self.points(me, int(s), "minimax") for s in bundle.test.x])
        lost = float((points == 0).mean())
        return {"test": {"random_score": float(points.mean()), "random_loss_rate_minimax": lost}}

    # -- outputs -----------------------------------------------------------------------
    def example_inputs(self, model: nn.Module, data: Any) -> torch.Tensor:
        """Positions of games between random players."""
        rng, views = np.random.default_rng(0), []
        for _ in range(8):
            board, player = self.game.start(), 1
            while self.game.winner(board) is None:
                views.append(self.game.view(board, player))
                move = int(rng.choice(self.game.legal(board)))
                board, player = self.game.play(board, move, player), -player
        return torch.as_tensor(np.stack(views))

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Boards as the mover sees them → the network's move probabilities (legal moves)
        and its value of the position."""
        logits, value = split(model(x))
        if self.game.gravity:
            legal = x.reshape(len(x), self.game.rows, self.game.cols)[:, 0] == 0
        else:
            legal = x == 0
        probabilities = logits.masked_fill(~legal, float("-inf")).softmax(-1)
        return {"move": probabilities.argmax(-1), "value": value, "probabilities": probabilities}

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        import pandas as pd

        frame = pd.DataFrame({"input": ids, "move": out["move"].numpy()})
        frame["value"] = out["value"].numpy()  # the position's worth for the mover, -1 to 1
        for i, column in enumerate(out["probabilities"].numpy().T):
            frame[f"probability_{i}"] = column
        return frame
