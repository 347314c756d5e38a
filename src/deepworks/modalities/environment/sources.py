"""Environments as data: any registered Gymnasium id, the built-in ones by name, board games.

An agent's data is what it meets by acting, so the bundle holds no examples: its training
"items" are environment steps — games, in self-play — (an epoch is `data.steps_per_epoch` of
them; each training step takes a round of `data.batch_size`, which the agent collects), and
its validation and test splits are the seeds of the evaluation episodes, never met in
training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, register_builder
from deepworks.data.datasets import TensorData
from deepworks.data.sources import Source, register_dataset
from deepworks.modalities.environment.encoder import EnvironmentEncoder

# Episodes judged at the end (test); each epoch plays `data.episodes` (validation).
TEST_EPISODES = 100
# Evaluation seeds live far from the training episodes' (which come from SeedSequence).
_VALID_SEED, _TEST_SEED = 10**9, 2 * 10**9


@dataclass
class EnvironmentSource(Source):
    modality: ClassVar[str] = "environment"
    natural_task: ClassVar[str | None] = None  # the dataset's registered task
    origin: str
    environment: str
    spec: dict[str, Any]
    game: bool = False


def gymnasium_source(env_id: str) -> EnvironmentSource:
    from deepworks.modalities.environment.envs import describe, make_env

    env = make_env(env_id)
    spec = describe(env)
    env.close()
    return EnvironmentSource(origin=f"gymnasium:{env_id}", environment=env_id, spec=spec)


@register_dataset(
    "gymnasium", "ppo", "environment", "any registered Gymnasium id (`data.environment`)", False
)
def gymnasium_dataset(cfg: DataConfig) -> EnvironmentSource:
    if not cfg.environment:
        raise DataError(
            "dataset `gymnasium` needs `data.environment`: a Gymnasium id such as CartPole-v1"
        )
    return gymnasium_source(cfg.environment)


def _builtin(name: str, env_id: str, task: str, help: str) -> None:
    def source(cfg: DataConfig) -> EnvironmentSource:
        if cfg.environment and cfg.environment != env_id:
            raise DataError(
                f"dataset `{name}` is {env_id}; for `{cfg.environment}` use "
                "`dataset: gymnasium` with `data.environment`"
            )
        return gymnasium_source(env_id)

    register_dataset(name, task, "environment", help)(source)


_builtin("cartpole", "CartPole-v1", "ppo", "balance a pole on a cart (Gymnasium CartPole-v1)")
_builtin("acrobot", "Acrobot-v1", "ppo", "swing a two-link arm up (Gymnasium Acrobot-v1)")
_builtin("mountain-car", "MountainCar-v0", "dqn", "drive up a hill (Gymnasium MountainCar-v0)")
_builtin("pendulum", "Pendulum-v1", "ppo", "swing a pendulum up, continuous torque (Pendulum-v1)")


def _board_game(name: str, help: str) -> None:
    def source(cfg: DataConfig) -> EnvironmentSource:
        from deepworks.modalities.environment.games import GAMES

        game = GAMES[name]
        spec = {"observation_shape": [game.rows * game.cols], "actions": game.moves}
        return EnvironmentSource(origin=name, environment=name, spec=spec, game=True)

    register_dataset(name, "self-play", "environment", help)(source)


_board_game("tic-tac-toe", "noughts and crosses on 3×3, learned by self-play")
_board_game("connect-four", "four in a row on a 6×7 board, learned by self-play")


def evaluation_seeds(seed: int, first: int, n: int) -> TensorData:
    seeds = torch.arange(n, dtype=torch.long) + first + seed * 10_000
    return TensorData(seeds, torch.zeros(n))


def test_episodes(seed: int, n: int = TEST_EPISODES) -> TensorData:
    """The seeds of a run's test episodes (and beyond, for more than 100)."""
    return evaluation_seeds(seed, _TEST_SEED, n)


@register_builder("environment", "ppo", "dqn", "self-play")
def environment_bundle(source: EnvironmentSource, task: str, cfg: DataConfig, seed: int):
    steps = cfg.steps_per_epoch
    if source.game != (task == "self-play"):
        raise DataError(
            f"task `{task}` does not play {source.environment}: board games (tic-tac-toe, "
            "connect-four) are learned by task self-play, Gymnasium environments by ppo or dqn"
        )
    encoder = EnvironmentEncoder(source.environment, **source.spec, game=source.game)
    schema = Schema(
        "environment",
        task,
        tuple(encoder.observation_shape),
        "return",
        encoder=encoder.to_dict(),
        outputs=encoder.actions or len(encoder.action_low),
        # discrete actions by number: what explanations name the action they explain
        classes=[str(a) for a in range(encoder.actions)] if encoder.actions else None,
        origin=source.origin,
    )
    return DataBundle(
        train=TensorData(torch.arange(steps), torch.zeros(steps)),  # environment steps
        valid=evaluation_seeds(seed, _VALID_SEED, cfg.episodes),
        test=test_episodes(seed),
        schema=schema,
    )
