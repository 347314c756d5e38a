"""Agents' networks, built on the project's MLP: an actor-critic (PPO), a Q-network (DQN) and a
policy-value network (self-play). Each reads observations through its own running
normalization (``model.normalize``), kept in buffers so prediction, serving and the exported
graph normalize exactly as training did; ``forward`` is what an exported policy answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.mlp import MLP, MLPParams
from deepworks.models.registry import register_model


class ObservationNorm(nn.Module):
    """Running mean and variance of the observations (as Gymnasium's NormalizeObservation);
    the identity when off. The agent updates it between rounds, never inside one."""

    def __init__(self, shape: tuple[int, ...], enabled: bool, clip: float = 10.0) -> None:
        super().__init__()
        self.enabled, self.clip = enabled, clip
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs: torch.Tensor) -> None:
        if not self.enabled:
            return
        mean, var, n = obs.mean(0), obs.var(0, unbiased=False), len(obs)
        total = self.count + n
        delta = mean - self.mean
        m2 = self.var * self.count + var * n + delta**2 * self.count * n / total
        self.mean += (delta * n / total).float()
        self.var.copy_((m2 / total).float())
        self.count.fill_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-self.clip, self.clip)


def _mlp(width: int, outputs: int, hidden: list[int], act: str, gain: float) -> MLP:
    """The project's MLP, plain (no dropout, no batch norm: the data shifts as the agent
    learns), with orthogonal weights (the initialization PPO and DQN are tuned for)."""
    net = MLP(width, outputs, MLPParams(hidden, dropout=0.0, activation=act, batch_norm=False))
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, math.sqrt(2))
            nn.init.zeros_(layer.bias)
    nn.init.orthogonal_(net.head.weight, gain)
    return net


def _spec(schema: Schema) -> tuple[int, int | None, list[float], list[float]]:
    enc = schema.encoder
    return math.prod(schema.input_shape), enc.get("actions"), enc["action_low"], enc["action_high"]


@dataclass
class ActorCriticParams:
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    normalize: bool = False  # running observation normalization
    log_std: float = 0.0  # continuous actions: the initial log standard deviation


class ActorCritic(Model):
    """A policy (actor) and a value estimate (critic), each its own MLP."""

    def __init__(self, schema: Schema, p: ActorCriticParams) -> None:
        super().__init__()
        width, actions, low, high = _spec(schema)
        self.discrete = actions is not None
        outputs = actions if self.discrete else len(low)
        self.norm = ObservationNorm(schema.input_shape, p.normalize)
        self.actor = _mlp(width, outputs, p.hidden, p.activation, gain=0.01)
        self.critic = _mlp(width, 1, p.hidden, p.activation, gain=1.0)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.full((outputs,), p.log_std))
            self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
            self.register_buffer("high", torch.tensor(high, dtype=torch.float32))

    def distribution(self, obs: torch.Tensor) -> Distribution:
        out = self.actor(self.norm(obs))
        if self.discrete:
            return Categorical(logits=out)
        return Independent(Normal(out, self.log_std.exp().expand_as(out)), 1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.norm(obs)).squeeze(-1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Discrete: the actions' logits; continuous: the mean action, within the bounds."""
        out = self.actor(self.norm(obs))
        return out if self.discrete else torch.maximum(torch.minimum(out, self.high), self.low)


@dataclass
class QNetworkParams:
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    normalize: bool = False


class QNetwork(Model):
    """Each action's expected discounted return (Q-value) from an observation."""

    def __init__(self, schema: Schema, p: QNetworkParams) -> None:
        super().__init__()
        width, actions, _, _ = _spec(schema)
        if actions is None:
            from deepworks.core.errors import ModelError

            raise ModelError(
                "q-network (DQN) needs discrete actions; for continuous ones use task ppo"
            )
        self.norm = ObservationNorm(schema.input_shape, p.normalize)
        self.q = _mlp(width, actions, p.hidden, p.activation, gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.q(self.norm(obs))


@dataclass
class PolicyValueParams:
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    activation: str = "relu"


class PolicyValue(Model):
    """A board game's move probabilities (logits) and the position's value for the player to
    move (tanh), from one shared MLP trunk, as AlphaZero's network."""

    def __init__(self, schema: Schema, p: PolicyValueParams) -> None:
        super().__init__()
        width = 2 * math.prod(schema.input_shape)  # the mover's stones, the opponent's
        trunk = MLP(width, 1, MLPParams(p.hidden, dropout=0.0, activation=p.activation,
                                        batch_norm=False))  # fmt: skip
        self.trunk = trunk.features
        self.policy = nn.Linear(p.hidden[-1], schema.encoder["actions"])
        self.value_head = nn.Linear(p.hidden[-1], 1)

    def forward(self, boards: torch.Tensor) -> torch.Tensor:
        """Boards as the mover sees them (+1 own, -1 the opponent's) → each move's logit
        and, last, the position's value: one output, so an exported graph holds both."""
        planes = torch.cat([boards == 1, boards == -1], dim=-1).to(boards.dtype)
        h = self.trunk(planes)
        return torch.cat([self.policy(h), torch.tanh(self.value_head(h))], dim=-1)


@register_model(
    "actor-critic", ActorCriticParams, ("environment",), "policy and value MLPs (PPO)",
    tasks=("ppo",),
)  # fmt: skip
def actor_critic(schema: Schema, p: ActorCriticParams) -> nn.Module:
    return ActorCritic(schema, p)


@register_model(
    "q-network", QNetworkParams, ("environment",), "action values from an MLP (DQN)",
    tasks=("dqn",),
)  # fmt: skip
def q_network(schema: Schema, p: QNetworkParams) -> nn.Module:
    return QNetwork(schema, p)


@register_model(
    "policy-value", PolicyValueParams, ("environment",), "moves and value (self-play)",
    tasks=("self-play",),
)  # fmt: skip
def policy_value(schema: Schema, p: PolicyValueParams) -> nn.Module:
    return PolicyValue(schema, p)
