"""Proximal Policy Optimization (Schulman et al. 2017), in CleanRL's single-file shape.

One training step is one round: roll the policy out over ``data.batch_size`` environment
steps (spread over ``agent.envs`` copies), estimate advantages with GAE, then
``agent.update_epochs`` passes of clipped-objective minibatch updates. Discrete actions sample
a categorical, continuous ones a diagonal Gaussian (clipped to the bounds for the environment
only). A time limit is not a failure: a truncated episode's last reward bootstraps from the
value of where it stopped (as Stable-Baselines3 does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import register_task
from deepworks.tasks.acting import Acting


@dataclass
class PPOParams:
    envs: int = 8  # copies of the environment stepped together
    gamma: float = 0.99  # discount
    gae_lambda: float = 0.95
    clip: float = 0.2  # the policy ratio's clip range
    update_epochs: int = 10  # passes over each round's experience
    minibatches: int = 4  # per pass
    entropy: float = 0.0  # the entropy bonus' weight
    value_weight: float = 0.5
    max_grad_norm: float = 0.5
    anneal_lr: bool = True  # the learning rate falls linearly to 0 over the run
    normalize_advantages: bool = True


@register_task("ppo")
class PPO(Acting):
    """Proximal Policy Optimization: an actor-critic learns by acting in an environment."""

    Params = PPOParams
    terms = ("policy_loss", "value_loss", "entropy", "approx_kl", "explained_variance")

    @torch.no_grad()
    def rollout(self, model, steps: int) -> dict[str, torch.Tensor]:
        """``steps`` steps of every copy under the current policy."""
        p, pool = self.params, self.pool
        keys = ("obs", "actions", "logprobs", "rewards", "dones", "values")
        out: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
        low, high = np.array(self.env.action_low), np.array(self.env.action_high)
        for _ in range(steps):
            obs = torch.as_tensor(pool.obs, dtype=torch.float32)
            dist = model.distribution(obs)
            action = dist.sample()
            sent = action.numpy() if self.env.actions else np.clip(action.numpy(), low, high)
            _, reward, terminated, truncated, final, finished = pool.step(sent)
            reward = torch.as_tensor(reward, dtype=torch.float32)
            cut = truncated & ~terminated
            if cut.any():  # bootstrap the time limit from the value where it stopped
                last = torch.as_tensor(final[cut], dtype=torch.float32)
                reward[torch.from_numpy(cut)] += p.gamma * model.value(last)
            self.note(finished)
            out["obs"].append(obs)
            out["actions"].append(action)
            out["logprobs"].append(dist.log_prob(action))
            out["rewards"].append(reward)
            out["dones"].append(torch.as_tensor(terminated | truncated, dtype=torch.float32))
            out["values"].append(model.value(obs))
        self.env_steps += steps * pool.n
        data = {k: torch.stack(v) for k, v in out.items()}
        data["advantages"] = self.advantages(model, data)
        data["returns"] = data["advantages"] + data["values"]
        return data

    def advantages(self, model, data: dict[str, torch.Tensor]) -> torch.Tensor:
        """Generalized advantage estimation, backwards over the round; an episode's end
        (`dones`, after the step) stops the sum."""
        p = self.params
        next_value = model.value(torch.as_tensor(self.pool.obs, dtype=torch.float32))
        adv = torch.zeros_like(data["rewards"])
        last = torch.zeros_like(next_value)
        for t in reversed(range(len(adv))):
            alive = 1.0 - data["dones"][t]
            following = next_value if t == len(adv) - 1 else data["values"][t + 1]
            delta = data["rewards"][t] + p.gamma * following * alive - data["values"][t]
            last = delta + p.gamma * p.gae_lambda * alive * last
            adv[t] = last
        return adv

    def training_step(self, model: nn.Module, batch: Batch) -> float:
        p = self.params
        (optimizer,) = self.optimizers
        self.anneal(optimizer)
        data = self.rollout(model, math.ceil(len(batch) / self.pool.n))
        flat = {k: v.flatten(0, 1) for k, v in data.items()}
        size = len(flat["obs"])
        minibatch = max(size // p.minibatches, 1)
        losses = []
        for _ in range(p.update_epochs):
            order = torch.randperm(size)
            for start in range(0, size, minibatch):
                idx = order[start : start + minibatch]
                losses.append(self.update(model, optimizer, {k: v[idx] for k, v in flat.items()}))
        model.norm.update(flat["obs"])  # between rounds: a round sees one normalization
        self.rounds += 1
        explained = 1 - (flat["returns"] - flat["values"]).var() / flat["returns"].var()
        terms = np.mean(losses, axis=0)
        self.note(
            policy_loss=terms[0], value_loss=terms[1], entropy=terms[2], approx_kl=terms[3],
            explained_variance=float(explained),
        )  # fmt: skip
        return float(terms[0] + p.value_weight * terms[1] - p.entropy * terms[2])

    def update(self, model, optimizer, mb: dict[str, torch.Tensor]) -> list[float]:
        p = self.params
        dist = model.distribution(mb["obs"])
        logprob = dist.log_prob(mb["actions"])
        log_ratio = logprob - mb["logprobs"]
        ratio = log_ratio.exp()
        adv = mb["advantages"]
        if p.normalize_advantages and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - p.clip, 1 + p.clip)).mean()
        value_loss = 0.5 * (model.value(mb["obs"]) - mb["returns"]).square().mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + p.value_weight * value_loss - p.entropy * entropy
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), p.max_grad_norm)
        optimizer.step()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean()
        return [policy_loss.item(), value_loss.item(), entropy.item(), approx_kl.item()]
