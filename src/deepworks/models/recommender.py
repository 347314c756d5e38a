"""Recommenders: `ncf` (neural collaborative filtering, NeuMF) and `two-tower`.

Both take (user, item) index pairs and return two numbers per pair: the rating (standardized)
and an interaction logit, "would this user pick this item at all". The rating answers RMSE;
the logit ranks items for top-k recommendation. Row 0 of each embedding is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from deepworks.core.errors import ModelError
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import dense_stack, register_model


@dataclass
class RecommenderParams:
    dim: int = 32  # embedding width
    hidden: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.1
    negatives: int = 4  # items sampled per observed rating as "not picked"
    # How much the rating loss counts beside the ranking loss. Ratings pull the shared
    # embeddings toward "how much", ranking toward "whether": 0.1 served both on movielens.
    rating_weight: float = 0.1


class Recommender(Model):
    """Sizes, the training settings the task reads, and scoring every item for ranking."""

    def __init__(self, n_items: int, p: RecommenderParams) -> None:
        super().__init__()
        if p.negatives < 1:
            raise ModelError(f"`negatives` is {p.negatives}; ranking needs at least 1")
        self.n_items, self.negatives, self.rating_weight = n_items, p.negatives, p.rating_weight

    def score_items(self, users: torch.Tensor, chunk: int = 1 << 18) -> torch.Tensor:
        """(B,) user indices → (B, n_items + 1) interaction logits (column 0: unknown item).
        Any recommender's default, a forward of every pair; the built-in ones compute less."""
        n_items = self.n_items + 1
        pairs = torch.stack(
            [users.repeat_interleave(n_items), torch.arange(n_items).repeat(len(users))], dim=1
        ).to(users.device)
        logits = torch.cat([self(part)[:, 1] for part in pairs.split(chunk)])
        return logits.view(len(users), n_items)


class NeuMF(Recommender):
    """He et al. 2017: a generalized matrix factorization (element-wise product of embeddings)
    beside an MLP over the concatenated embeddings, joined by one output layer."""

    def __init__(self, n_users: int, n_items: int, p: RecommenderParams) -> None:
        super().__init__(n_items, p)
        self.gmf_user = nn.Embedding(n_users + 1, p.dim)
        self.gmf_item = nn.Embedding(n_items + 1, p.dim)
        self.mlp_user = nn.Embedding(n_users + 1, p.dim)
        self.mlp_item = nn.Embedding(n_items + 1, p.dim)
        self.mlp = dense_stack([2 * p.dim, *p.hidden], "relu", p.dropout)
        self.out = nn.Linear(p.dim + p.hidden[-1], 2)
        for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(table.weight, std=0.05)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        user, item = pairs[:, 0], pairs[:, 1]
        gmf = self.gmf_user(user) * self.gmf_item(item)
        mlp = self.mlp(torch.cat([self.mlp_user(user), self.mlp_item(item)], dim=1))
        return self.out(torch.cat([gmf, mlp], dim=1))

    def score_items(self, users: torch.Tensor, chunk: int = 1 << 18) -> torch.Tensor:
        """The MLP's first layer is linear in [user; item]: its user half is computed once
        per user and its item half once per item, then added for every pair (the same logits
        as a forward of every pair, to float rounding). ``chunk`` bounds the pairs at once."""
        items = torch.arange(self.n_items + 1, device=users.device)
        first, rest = self.mlp[0], self.mlp[1:]
        user_half, item_half = first.weight.split(self.mlp_user.embedding_dim, dim=1)
        item_part = self.mlp_item(items) @ item_half.T
        gmf_weight, mlp_weight = self.out.weight[1].split(self.gmf_user.embedding_dim)
        gmf_items = self.gmf_item(items).T

        def part(users: torch.Tensor) -> torch.Tensor:
            user_part = self.mlp_user(users) @ user_half.T + first.bias
            hidden = user_part[:, None] + item_part  # (users, items, first hidden width)
            gmf = (self.gmf_user(users) * gmf_weight) @ gmf_items
            return gmf + rest(hidden) @ mlp_weight + self.out.bias[1]

        return torch.cat([part(u) for u in users.split(max(1, chunk // len(items)))])


class TwoTower(Recommender):
    """A user tower and an item tower meet in a dot product, so item vectors can be computed
    once and ranking is one matrix product plus an item bias. The rating adds a user and an
    item bias of its own."""

    def __init__(self, n_users: int, n_items: int, p: RecommenderParams) -> None:
        super().__init__(n_items, p)

        def tower(n: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Embedding(n + 1, p.dim),
                dense_stack([p.dim, *p.hidden[:-1]], "relu", p.dropout),
                nn.Linear(([p.dim, *p.hidden[:-1]])[-1], p.hidden[-1]),
            )

        self.user_tower, self.item_tower = tower(n_users), tower(n_items)
        self.user_bias = nn.Embedding(n_users + 1, 1)
        # Per item: a rating bias and a pick bias (how popular it is, whoever the user).
        self.item_bias = nn.Embedding(n_items + 1, 2)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.affinity_scale = nn.Parameter(torch.tensor(0.1))

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        user, item = pairs[:, 0], pairs[:, 1]
        affinity = (self.user_tower(user) * self.item_tower(item)).sum(1)
        rating_bias, pick_bias = self.item_bias(item).unbind(1)
        rating = self.affinity_scale * affinity + self.user_bias(user).squeeze(1) + rating_bias
        return torch.stack([rating, affinity + pick_bias], dim=1)

    def score_items(self, users: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        items = torch.arange(self.n_items + 1, device=users.device)
        return self.user_tower(users) @ self.item_tower(items).T + self.item_bias(items)[:, 1]


def _sizes(schema: Schema) -> tuple[int, int]:
    return len(schema.encoder["users"]), len(schema.encoder["items"])


RATINGS = ("ratings",)
register_model(
    "ncf",
    RecommenderParams,
    RATINGS,
    "neural collaborative filtering (NeuMF)",
    tasks=("recommendation",),
)(lambda s, p: NeuMF(*_sizes(s), p))
register_model(
    "two-tower",
    RecommenderParams,
    RATINGS,
    "two-tower retrieval model (dot product of user and item towers)",
    tasks=("recommendation",),
)(lambda s, p: TwoTower(*_sizes(s), p))
