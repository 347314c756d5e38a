"""Gymnasium environments: made by id (with "did you mean"), stepped in parallel, replayable.

``EnvPool`` steps ``n`` copies of one environment together (Gymnasium's ``SyncVectorEnv``,
reset by hand) and seeds every episode from (seed, copy, episode). With the actions taken since
each copy's last reset, that seed *is* the copy's whole state: a checkpoint holds it as plain
data, and resuming replays the actions — so a run killed mid-rollout resumes exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from deepworks.core.errors import DataError, did_you_mean, require


def gymnasium():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # rgb_array frames need no display
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    return require("gymnasium", "rl", "reinforcement learning")


def make_env(env_id: str, render: bool = False, **kwargs: Any):
    """One environment by its Gymnasium id; an unknown id is the user's typo, said as such."""
    gym = gymnasium()
    if env_id not in gym.registry:
        hint = did_you_mean(env_id, list(gym.registry))
        raise DataError(
            f"data.environment `{env_id}` is not a registered Gymnasium environment.{hint} "
            "See gymnasium.registry for the ids (e.g. CartPole-v1, Acrobot-v1, Pendulum-v1)."
        )
    try:
        return gym.make(env_id, render_mode="rgb_array" if render else None, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise DataError(f"data.environment `{env_id}`: {exc}") from None


def describe(env) -> dict[str, Any]:
    """What a policy needs to know of an environment's spaces, as plain JSON."""
    gym = gymnasium()
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, gym.spaces.Box):
        raise DataError(
            f"environment `{env.spec.id}` observes {type(obs).__name__}; deepworks' agents take "
            "vector (Box) observations"
        )
    spec: dict[str, Any] = {"observation_shape": list(obs.shape)}
    if isinstance(act, gym.spaces.Discrete):
        spec["actions"] = int(act.n)
    elif isinstance(act, gym.spaces.Box) and len(act.shape) == 1:
        spec["action_low"] = act.low.astype(float).tolist()
        spec["action_high"] = act.high.astype(float).tolist()
    else:
        raise DataError(
            f"environment `{env.spec.id}` acts by {act}; deepworks' agents take discrete "
            "actions or a vector of continuous ones"
        )
    spec["max_steps"] = env.spec.max_episode_steps
    return spec


def episode_seed(seed: int, copy: int, episode: int) -> int:
    """The seed of one episode: a function of (run seed, copy, episode) alone."""
    return int(np.random.SeedSequence([seed, copy, episode]).generate_state(1)[0])


@dataclass
class Finished:
    """Episodes that ended in one step: their returns and lengths."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


class EnvPool:
    """``n`` copies of an environment, stepped together, every episode seeded and replayable."""

    def __init__(self, env_id: str, n: int, seed: int) -> None:
        gym = gymnasium()
        from gymnasium.vector import AutoresetMode, SyncVectorEnv

        self.env_id, self.n, self.seed = env_id, n, seed
        make_env(env_id).close()  # a bad id is said once, plainly
        self.vector = SyncVectorEnv(
            [lambda: gym.make(env_id) for _ in range(n)], autoreset_mode=AutoresetMode.DISABLED
        )
        self.episodes = [0] * n  # episodes begun per copy
        self.actions: list[list[np.ndarray]] = [[] for _ in range(n)]  # since each reset
        self.returns = np.zeros(n)
        self.lengths = np.zeros(n, dtype=np.int64)
        self.obs = self._reset(np.ones(n, dtype=bool))

    def _reset(self, mask: np.ndarray) -> np.ndarray:
        seeds = [
            episode_seed(self.seed, i, self.episodes[i]) if m else None for i, m in enumerate(mask)
        ]
        obs, _ = self.vector.reset(seed=seeds, options={"reset_mask": mask})
        for i in np.flatnonzero(mask):
            self.episodes[i] += 1
            self.actions[i] = []
            self.returns[i], self.lengths[i] = 0.0, 0
        return obs

    def step(self, actions: np.ndarray):
        """One step of every copy; finished copies start their next episode. Returns the next
        observations, rewards, terminated, truncated, each copy's last observation of the
        step (the final one where an episode ended: what a truncated episode bootstraps
        from) and the episodes that finished."""
        obs, rewards, terminated, truncated, _ = self.vector.step(actions)
        for i in range(self.n):
            self.actions[i].append(np.array(actions[i]))
        self.returns += rewards
        self.lengths += 1
        done = terminated | truncated
        finished = Finished(self.returns[done].tolist(), self.lengths[done].tolist())
        final = obs.copy()
        self.obs = self._reset(done) if done.any() else obs
        return self.obs, rewards, terminated, truncated, final, finished

    # A checkpoint's part: plain numbers and tensors, read back with weights_only=True.
    def state_dict(self) -> dict[str, Any]:
        return {
            "episodes": list(self.episodes),
            "actions": [torch.as_tensor(np.array(a)) for a in self.actions],
            "returns": self.returns.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Reset every copy to its episode's seed and replay its actions since."""
        self.episodes = [e - 1 for e in state["episodes"]]
        self.obs = self._reset(np.ones(self.n, dtype=bool))
        for i, actions in enumerate(state["actions"]):
            env = self.vector.envs[i]
            obs = self.obs[i]
            for a in actions.numpy():
                obs, *_ = env.step(a)
                self.actions[i].append(np.array(a))
            self.obs[i] = obs
            self.lengths[i] = len(actions)
        self.returns = np.array(state["returns"], dtype=float)

    def close(self) -> None:
        self.vector.close()


def play_episodes(
    act: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    seeds: list[int],
    frames: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Play one episode per seed, all together, choosing by ``act`` (observations → actions);
    their returns and lengths. ``frames`` collects the first episode's pictures."""
    envs = [make_env(env_id, render=frames is not None and i == 0) for i in range(len(seeds))]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)])
    returns, lengths = np.zeros(len(seeds)), np.zeros(len(seeds), dtype=np.int64)
    active = np.ones(len(seeds), dtype=bool)
    if frames is not None:
        frames.append(envs[0].render())
    while active.any():
        live = np.flatnonzero(active)
        actions = act(obs[live])
        for k, i in enumerate(live):
            o, r, terminated, truncated, _ = envs[i].step(actions[k])
            obs[i] = o
            returns[i] += r
            lengths[i] += 1
            if frames is not None and i == 0:
                frames.append(envs[0].render())
            if terminated or truncated:
                active[i] = False
    for env in envs:
        env.close()
    return returns, lengths
