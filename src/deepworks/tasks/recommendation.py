"""Recommendation: learn each user's ratings, and which items they pick at all.

A step fits the observed ratings (MSE on the standardized rating) and tells the observed
(user, item) pairs from `negatives` items drawn at random per rating (binary cross-entropy on
the interaction logit). Ratings give RMSE; the logit ranks items.

Ranking is judged per user on the split's later ratings: every item the user rated there is
relevant, items already rated earlier are never recommended, and HR@k (a relevant item in the
top k) and NDCG@k (how high) are averaged over users. Beside them, on the same split:
popularity (items by training rating count) for ranking, and the regularized user + item bias
model (μ + b_u + b_i) for RMSE.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from deepworks.core.metric import StreamMetric

K = 10
BIAS_SHRINK = 10.0  # pseudo-ratings pulling the baseline's biases toward 0


@register_task("recommendation")
class Recommendation(Task):
    """Predict ratings and rank items per user."""

    main_metric = f"ndcg@{K}"
    final_metric_names = (f"hr@{K}", f"ndcg@{K}", f"popularity_hr@{K}", f"popularity_ndcg@{K}")
    final_metric_names += ("bias_baseline_rmse", "users_ranked")
    own_baselines = ("popularity",)
    tags = frozenset({"recommends"})
    data_hint = (
        "recommendation learns from ratings: use `data.ratings` (the user, item and rating "
        "columns) or the built-in movielens"
    )
    lower_is_better = frozenset({"loss", "rmse", "mae", "bias_baseline_rmse"})
    epoch_metrics = frozenset({"rmse"})

    def standardize(self, rating: torch.Tensor) -> torch.Tensor:
        mean, std = self.schema.target_scale or (0.0, 1.0)
        return (rating - mean) / std

    def rating(self, output: torch.Tensor) -> torch.Tensor:
        mean, std = self.schema.target_scale or (0.0, 1.0)
        return output[:, 0] * std + mean

    # -- training -----------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        pairs, rating = batch
        out = model(pairs)
        rating_loss = F.mse_loss(out[:, 0], self.standardize(rating))
        k = model.negatives
        negatives = pairs.repeat(k, 1)
        negatives[:, 1] = torch.randint(1, model.n_items + 1, (len(negatives),))
        logits = torch.cat([out[:, 1], model(negatives)[:, 1]])
        picked = torch.cat([torch.ones(len(pairs)), torch.zeros(len(negatives))]).to(logits)
        ranking_loss = F.binary_cross_entropy_with_logits(logits, picked)
        return model.rating_weight * rating_loss + ranking_loss

    # -- evaluation ---------------------------------------------------------------------
    def evaluation_step(self, model, batch):
        pairs, rating = batch
        out = model(pairs)
        return F.mse_loss(out[:, 0], self.standardize(rating)), self.rating(out), rating

    def metric_factories(self) -> dict[str, Callable[[], StreamMetric]]:
        from deepworks.metrics.errors import ErrorScores

        return {k: lambda k=k: ErrorScores({k: k}) for k in ("rmse", "mae")}

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """Ranking for the model and for popularity, and the bias baseline's RMSE."""
        train_pairs = bundle.train.x.numpy()
        n_items = model.n_items + 1
        popularity = np.bincount(train_pairs[:, 1], minlength=n_items).astype(np.float64)
        seen = _by_user(train_pairs)
        bias = _bias_baseline(bundle.train.x, bundle.train.y, model.n_items)
        out = {}
        for split in ("valid", "test"):
            data = getattr(bundle, split)
            relevant = _by_user(data.x.numpy())
            ranked = rank(lambda users: self.scores(model, users), relevant, seen)
            by_count = rank(
                lambda users: torch.from_numpy(np.tile(popularity, (len(users), 1))),
                relevant,
                seen,
            )
            out[split] = {
                f"hr@{K}": ranked[0],
                f"ndcg@{K}": ranked[1],
                f"popularity_hr@{K}": by_count[0],
                f"popularity_ndcg@{K}": by_count[1],
                "bias_baseline_rmse": float((bias(data.x) - data.y).pow(2).mean().sqrt()),
                "users_ranked": len(relevant),
            }
            if split == "valid":  # test excludes what the user rated in valid as well
                seen = {u: seen.get(u, set()) | relevant[u] for u in seen.keys() | relevant}
        return out

    @torch.inference_mode()
    def scores(self, model: nn.Module, users: torch.Tensor) -> torch.Tensor:
        model.eval()
        return model.score_items(users)

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        from deepworks import plots

        test = metrics["test"]
        plots.bars(
            {
                "model": {m: test[f"{m}@{K}"] for m in ("hr", "ndcg")},
                "popularity": {m: test[f"popularity_{m}@{K}"] for m in ("hr", "ndcg")},
            },
            folder / "ranking.png",
            f"top-{K} recommendations on the test period",
        )

    # -- prediction ---------------------------------------------------------------------
    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        """One row per (user, item) pair asked about: the two ids as given, and the rating."""
        frame = super().prediction_frame(ids, out, metrics)
        frame.insert(0, "user", [user for user, _ in ids])
        frame.insert(1, "item", [item for _, item in ids])
        return frame.drop(columns="input")

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = model(x)
        return {"rating": self.rating(out), "pick_probability": torch.sigmoid(out[:, 1])}

    def recommend(
        self, model: nn.Module, user: int, k: int, exclude: list[int]
    ) -> tuple[list[int], list[float]]:
        """The k best items (indices) for one user, never one in ``exclude`` nor 'unknown'."""
        scores = self.scores(model, torch.tensor([user]))[0].clone()
        scores[[0, *exclude]] = -torch.inf
        top = scores.topk(min(k, int(torch.isfinite(scores).sum())))
        return top.indices.tolist(), torch.sigmoid(top.values).tolist()


def _by_user(pairs: np.ndarray) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for user, item in pairs.tolist():
        out.setdefault(user, set()).add(item)
    return out


def rank(
    score: Callable[[torch.Tensor], torch.Tensor],
    relevant: dict[int, set[int]],
    seen: dict[int, set[int]],
    batch: int = 128,
) -> tuple[float, float]:
    """Mean HR@K and NDCG@K (binary relevance) over the users with relevant items."""
    users = sorted(relevant)
    hits, gains = [], []
    discount = 1 / np.log2(np.arange(2, K + 2))
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = score(torch.tensor(chunk)).double().clone()
        scores[:, 0] = -torch.inf  # "unknown item" is never recommended
        for row, user in enumerate(chunk):
            scores[row, list(seen.get(user, ()))] = -torch.inf
        top = scores.topk(K, dim=1).indices.numpy()
        for row, user in enumerate(chunk):
            hit = np.isin(top[row], list(relevant[user]))
            ideal = discount[: min(len(relevant[user]), K)].sum()
            hits.append(hit.any())
            gains.append((discount * hit).sum() / ideal)
    return float(np.mean(hits)), float(np.mean(gains))


def _bias_baseline(
    pairs: torch.Tensor, ratings: torch.Tensor, n_items: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """μ + b_u + b_i with shrunken means (Koren 2009, the classic rating baseline)."""
    users, items = pairs[:, 0], pairs[:, 1]
    r = ratings.double()
    mu = r.mean()
    n_users = int(users.max()) + 1

    def shrunk_mean(index: torch.Tensor, residual: torch.Tensor, size: int) -> torch.Tensor:
        total = torch.zeros(size, dtype=torch.float64).index_add_(0, index, residual)
        count = torch.zeros(size, dtype=torch.float64).index_add_(0, index, torch.ones_like(r))
        return total / (count + BIAS_SHRINK)

    b_item = shrunk_mean(items, r - mu, n_items + 1)
    b_user = shrunk_mean(users, r - mu - b_item[items], n_users)

    def predict(x: torch.Tensor) -> torch.Tensor:
        u = x[:, 0].clamp(max=n_users - 1)
        return (mu + b_user[u] + b_item[x[:, 1]]).float()

    return predict
