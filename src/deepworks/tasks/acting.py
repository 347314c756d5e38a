"""What every agent shares: judged by whole episodes, it answers observations with actions.

An agent's training step is a round of acting (``data.batch_size`` environment steps, over
its copies of the environment) and learning from it; its validation and test "examples" are
the seeds of evaluation episodes, played greedily, all at once. Its environments, and every
number an epoch's record is built from, go into the checkpoint (``state_dict``), so a run
killed mid-rollout resumes exactly. Beside it on the leaderboard: a random policy on the same
test episodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task
from deepworks.modalities.environment.encoder import EnvironmentEncoder
from deepworks.modalities.environment.envs import EnvPool, Finished, play_episodes


class Acting(Task):
    """Base of the reinforcement-learning tasks (not registered itself)."""

    main_metric = "mean_return"
    automatic_optimization = False
    evaluates_loss = False  # judged by its episodes (games)
    tags = frozenset({"acts", "explainable"})
    epoch_metrics = frozenset({"mean_return", "return_std", "episode_length"})
    final_metric_names = ("random_mean_return", "random_return_std", "random_episode_length")
    own_baselines = ("random",)
    data_hint = (
        "an environment: `dataset: gymnasium` with `data.environment` (a Gymnasium id), or "
        "cartpole, acrobot, pendulum"
    )
    # The per-round numbers averaged into each epoch's record (besides the returns).
    terms: tuple[str, ...] = ()
    # What the prediction table calls each action's score.
    score_name = "probability"

    def __init__(self, schema) -> None:
        super().__init__(schema)
        self.env = EnvironmentEncoder.from_dict(schema.encoder)
        self.pool: EnvPool | None = None
        self.env_steps = 0
        self.rounds = 0
        self._epoch: dict[str, list[float]] = {}

    # -- training ----------------------------------------------------------------------
    def on_fit_start(self, model: nn.Module, total_steps: int, train: Any) -> None:
        self.total_rounds = max(total_steps, 1)
        seed = int(torch.randint(0, 2**31 - 1, ()))  # the run's seed, through its RNG
        if self.pool is not None:
            self.pool.close()
        self.pool = EnvPool(self.env.environment, self.params.envs, seed)

    def configure_optimizers(self, model, build):
        optimizers = super().configure_optimizers(model, build)
        self.base_lr = optimizers[0].param_groups[0]["lr"]  # before a resume restores it
        return optimizers

    def anneal(self, optimizer) -> None:
        """`agent.anneal_lr`: the learning rate falls linearly to 0 over the run's rounds."""
        if self.params.anneal_lr:
            optimizer.param_groups[0]["lr"] = self.base_lr * (1 - self.rounds / self.total_rounds)

    def note(self, finished: Finished | None = None, **terms: float) -> None:
        """Keep a round's numbers for the epoch's record."""
        if finished is not None:
            self._epoch.setdefault("train_return", []).extend(finished.returns)
            self._epoch.setdefault("train_length", []).extend(finished.lengths)
        for key, value in terms.items():
            self._epoch.setdefault(key, []).append(float(value))

    def epoch_record(self) -> dict[str, float]:
        record: dict[str, float] = {"env_steps": float(self.env_steps)}
        for key, values in self._epoch.items():
            record[key] = float(np.mean(values)) if values else math.nan
        self._epoch = {}
        return record

    def state_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool.state_dict() if self.pool else {},
            "env_steps": self.env_steps,
            "rounds": self.rounds,
            "epoch": {k: list(v) for k, v in self._epoch.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        assert self.pool is not None
        self.pool.load_state_dict(state["pool"])
        self.env_steps, self.rounds = state["env_steps"], state["rounds"]
        self._epoch = {k: list(v) for k, v in state["epoch"].items()}

    # -- acting ------------------------------------------------------------------------
    def act(self, model: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """The greedy action for each observation (what evaluation and serving play)."""
        out = model(obs)
        return out.argmax(-1) if self.env.actions else out

    def player(self, model: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
        def play(obs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return self.act(model, torch.as_tensor(obs, dtype=torch.float32)).numpy()

        return play

    def random_player(self, seed: int) -> Callable[[np.ndarray], np.ndarray]:
        rng = np.random.default_rng(seed)
        low, high = np.array(self.env.action_low), np.array(self.env.action_high)

        def play(obs: np.ndarray) -> np.ndarray:
            if self.env.actions:
                return rng.integers(0, self.env.actions, len(obs))
            return rng.uniform(low, high, (len(obs), len(low))).astype(np.float32)

        return play

    # -- evaluation --------------------------------------------------------------------
    def evaluation_step(self, model: nn.Module, batch: Batch):
        seeds = batch.x.tolist()
        returns, lengths = play_episodes(self.player(model), self.env.environment, seeds)
        preds = torch.tensor(np.stack([returns, lengths], 1), dtype=torch.float32)
        return None, preds, torch.zeros(len(seeds))

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        from deepworks.metrics.streams import MeanColumn, StdColumn

        return {
            "mean_return": lambda: MeanColumn(0),
            "return_std": lambda: StdColumn(0),
            "episode_length": lambda: MeanColumn(1),
        }

    def episodes(self, model: nn.Module, seeds: list[int]) -> dict[str, float]:
        """The mean, spread and length of greedy episodes from ``seeds``."""
        returns, lengths = play_episodes(self.player(model), self.env.environment, seeds)
        return _summary(returns, lengths)

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        if not self.scores_baseline("random"):
            return {}
        seeds = bundle.test.x.tolist()
        returns, lengths = play_episodes(self.random_player(seed), self.env.environment, seeds)
        return {"test": {f"random_{k}": v for k, v in _summary(returns, lengths).items()}}

    # -- outputs -----------------------------------------------------------------------
    def example_inputs(self, model: nn.Module, data: Any) -> torch.Tensor:
        """Observations of a greedy episode from the first test seed (at most 256)."""
        seen: list[np.ndarray] = []
        play = self.player(model)

        def watch(obs: np.ndarray) -> np.ndarray:
            seen.extend(obs)
            return play(obs)

        play_episodes(watch, self.env.environment, [int(data.x[0])])
        return torch.as_tensor(np.stack(seen[:256]))

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = model(x)
        if not self.env.actions:
            return {"action": out}
        return {"action": out.argmax(-1), "scores": out}

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        import pandas as pd

        frame = pd.DataFrame({"input": ids})
        action = out["action"].numpy()
        if self.env.actions:
            frame["action"] = action
            for i, column in enumerate(self.score_columns(out["scores"]).T):
                frame[f"{self.score_name}_{i}"] = column
        else:
            for i in range(action.shape[1]):
                frame[f"action_{i}"] = action[:, i]
        return frame

    def score_columns(self, scores: torch.Tensor) -> np.ndarray:
        """Each action's score as the prediction table shows it: its probability."""
        return scores.softmax(-1).numpy()

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        import json

        from deepworks.plots import agent_curves

        log = folder / "metrics.jsonl"  # the epochs' records, as the trainer logged them
        history = [json.loads(x) for x in log.read_text().splitlines()] if log.is_file() else []
        if history:
            agent_curves(history, folder / "returns.png", [t for t in self.terms if t])
        frames: list[np.ndarray] = []
        play_episodes(self.player(model), self.env.environment, [int(bundle.test.x[0])], frames)
        write_gif(frames, folder / "episode.gif")


def _summary(returns: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
    return {
        "mean_return": float(returns.mean()),
        "return_std": float(returns.std()),
        "episode_length": float(lengths.mean()),
    }


def write_gif(frames: list[np.ndarray], path: Path, every: int = 2, width: int = 300) -> Path:
    """An episode's frames as an animated GIF (every other frame, 300 pixels wide)."""
    from PIL import Image

    pictures = []
    for frame in frames[::every]:
        picture = Image.fromarray(frame)
        height = round(picture.height * width / picture.width)
        pictures.append(picture.resize((width, height)).convert("P", palette=Image.ADAPTIVE))
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=40, loop=0)
    return path
