"""What agents' runs do: play new evaluation episodes, and play a board game with a person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepworks.core.errors import DataError, RunError
from deepworks.core.task import TAGS


class Acting:
    """``Run.evaluate_episodes`` and ``Run.play``."""

    def _need(self, tag: str) -> None:
        if tag not in self.task.tags:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; only runs whose task "
                f"{TAGS[tag].split(':')[0]} do that"
            )

    def evaluate_episodes(self, episodes: int) -> dict[str, Any]:
        """The run's greedy policy over ``episodes`` evaluation episodes (or games), seeded
        as its test split is (the first 100 are the test split's own)."""
        from deepworks.catalog import load_config
        from deepworks.metrics.evaluator import evaluate
        from deepworks.modalities.environment.sources import test_episodes
        from deepworks.train.loader import make_loader

        self._need("acts")
        if episodes < 1:
            raise DataError(f"--episodes must be at least 1, not {episodes}")
        seeds = test_episodes(load_config(self.folder.config).seed, episodes)
        return evaluate(self.model, self.task, make_loader(seeds, self.batch_size))

    def play(
        self,
        ask: Callable[[str], str] = input,
        tell: Callable[[str], None] = print,
        first: bool = True,
    ) -> int:
        """A game of the run's board game against a person: ``ask`` reads their moves (a cell
        1–9, or a column), ``tell`` shows the board. Returns the winner: 1 the person, -1 the
        agent, 0 a draw."""
        self._need("plays")
        task, game = self.task, self.task.game
        agent = task.agent(self.model)
        board, player, person = game.start(), 1, 1 if first else -1
        while (won := game.winner(board)) is None:
            tell(game.show(board))
            if player == person:
                move = _read_move(ask, game.legal(board), "column" if game.gravity else "cell")
            else:
                move = agent(board, player)
                tell(f"the agent plays {move + 1}")
            board, player = game.play(board, move, player), -player
        tell(game.show(board))
        outcome = won * person
        tell({1: "you win", -1: "the agent wins", 0: "a draw"}[outcome])
        return outcome


def _read_move(ask: Callable[[str], str], legal: list[int], what: str) -> int:
    while True:
        answer = ask(f"your move ({what} {', '.join(str(m + 1) for m in legal)}): ").strip()
        if answer.isdigit() and int(answer) - 1 in legal:
            return int(answer) - 1
