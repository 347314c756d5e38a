"""Deep Q-learning (Mnih et al. 2015) with double Q-learning (van Hasselt et al. 2016).

One training step is one round: ``data.batch_size`` environment steps, ε-greedy (ε falls
linearly from ``epsilon_start`` to ``epsilon_end`` over the first ``exploration`` share of the
run), every transition into a replay buffer; then ``agent.gradient_steps`` minibatch updates
of the Huber TD error against a target network, refreshed every ``agent.target_every`` rounds.
The buffer and the target network are part of the checkpoint: resuming is exact.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import register_task
from deepworks.tasks.acting import Acting


@dataclass
class DQNParams:
    envs: int = 1
    gamma: float = 0.99
    buffer: int = 100_000  # transitions kept
    learning_starts: int = 1000  # environment steps acted at random before learning
    minibatch: int = 64
    gradient_steps: int = 128  # updates per round
    target_every: int = 1  # rounds between target-network refreshes
    exploration: float = 0.16  # share of the run over which ε falls
    epsilon_start: float = 1.0
    epsilon_end: float = 0.04
    double: bool = True  # the online network picks the next action, the target values it
    max_grad_norm: float = 10.0
    anneal_lr: bool = True  # the learning rate falls linearly to 0 over the run


class ReplayBuffer:
    """The last ``capacity`` transitions, as tensors (a checkpoint holds its filled part)."""

    def __init__(self, capacity: int, shape: tuple[int, ...], action_dtype=torch.long) -> None:
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.data = {
            "obs": torch.zeros(capacity, *shape),
            "next_obs": torch.zeros(capacity, *shape),
            "actions": torch.zeros(capacity, dtype=action_dtype),
            "rewards": torch.zeros(capacity),
            "terminated": torch.zeros(capacity),
        }

    def add(self, **items: torch.Tensor) -> None:
        n = len(items["obs"])
        idx = (torch.arange(n) + self.pos) % self.capacity
        for key, value in items.items():
            self.data[key][idx] = value.to(self.data[key].dtype)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, self.size, (n,))
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "pos": self.pos} | {
            k: v[: self.size].clone() for k, v in self.data.items()
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.pos = state["size"], state["pos"]
        for key, value in self.data.items():
            value[: self.size] = state[key]


@register_task("dqn")
class DQN(Acting):
    """Deep Q-learning: a Q-network learns action values by acting (discrete actions)."""

    Params = DQNParams
    terms = ("td_loss", "q_value", "epsilon")
    score_name = "q"

    def score_columns(self, scores: torch.Tensor):
        return scores.numpy()

    def on_fit_start(self, model: nn.Module, total_steps: int, train) -> None:
        super().on_fit_start(model, total_steps, train)
        self.target = copy.deepcopy(model).requires_grad_(False)
        self.buffer = ReplayBuffer(self.params.buffer, self.schema.input_shape)

    def epsilon(self, total_env_steps: int) -> float:
        p = self.params
        span = max(p.exploration * total_env_steps, 1)
        share = min(self.env_steps / span, 1.0)
        return p.epsilon_start + share * (p.epsilon_end - p.epsilon_start)

    @torch.no_grad()
    def act_and_store(self, model, steps: int, total_env_steps: int) -> float:
        pool, n = self.pool, self.pool.n
        seen = []
        for _ in range(steps):
            eps = self.epsilon(total_env_steps)
            obs = torch.as_tensor(pool.obs, dtype=torch.float32)
            greedy = model(obs).argmax(-1)
            explore = torch.rand(n) < eps
            if self.env_steps < self.params.learning_starts:
                explore[:] = True
            action = torch.where(explore, torch.randint(0, self.env.actions, (n,)), greedy)
            _, reward, terminated, _, final, finished = pool.step(action.numpy())
            self.buffer.add(
                obs=obs,
                next_obs=torch.as_tensor(final),  # a reset's first observation is not next
                actions=action,
                rewards=torch.as_tensor(reward),
                terminated=torch.as_tensor(terminated),  # a time limit still bootstraps
            )
            self.note(finished)
            self.env_steps += n
            seen.append(obs)
        # the buffer keeps raw observations; the network reads them as it now normalizes
        model.norm.update(torch.cat(seen))
        return eps

    def training_step(self, model: nn.Module, batch: Batch) -> float:
        p = self.params
        (optimizer,) = self.optimizers
        self.anneal(optimizer)
        total = self.total_rounds * len(batch)
        eps = self.act_and_store(model, max(len(batch) // self.pool.n, 1), total)
        losses, q_values = [], []
        if self.env_steps >= p.learning_starts:
            for _ in range(p.gradient_steps):
                loss, q = self.update(model, optimizer, self.buffer.sample(p.minibatch))
                losses.append(loss)
                q_values.append(q)
        self.rounds += 1
        if self.rounds % p.target_every == 0:
            self.target.load_state_dict(model.state_dict())
        if not losses:  # still acting at random, before `learning_starts`
            self.note(epsilon=eps)
            return 0.0
        mean = sum(losses) / len(losses)
        self.note(epsilon=eps, td_loss=mean, q_value=sum(q_values) / len(q_values))
        return mean

    def update(self, model, optimizer, mb: dict[str, torch.Tensor]) -> tuple[float, float]:
        p = self.params
        with torch.no_grad():
            following = self.target(mb["next_obs"])
            if p.double:
                choice = model(mb["next_obs"]).argmax(-1, keepdim=True)
                best = following.gather(1, choice).squeeze(1)
            else:
                best = following.max(-1).values
            target = mb["rewards"] + p.gamma * (1 - mb["terminated"]) * best
        q = model(mb["obs"]).gather(1, mb["actions"].unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), p.max_grad_norm)
        optimizer.step()
        return loss.item(), q.mean().item()

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {
            "buffer": self.buffer.state_dict(),
            "target": self.target.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state:
            self.buffer.load_state_dict(state["buffer"])
            self.target.load_state_dict(state["target"])
