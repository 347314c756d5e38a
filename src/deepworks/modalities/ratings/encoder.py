"""Ratings → (user, item) index pairs: ids become embedding rows (0 kept for "unknown"), and
what each user rated in training is remembered for recommending."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.encoder import Encoder
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.data.datasets import TensorData
from deepworks.data.encoders import register_encoder
from deepworks.data.tables import (
    frame_of,
    need_column,
    origin_of,
    read_table,
)

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@register_encoder("ratings")
@dataclass
class RatingsEncoder(Encoder):
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

    # -- new inputs --------------------------------------------------------------------
    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """(user, item) pairs from a table with the two id columns."""
        frame = frame_of(inputs, [self.user_column, self.item_column])
        pairs = self.pairs(frame, origin_of(inputs))
        ids = list(zip(frame[self.user_column], frame[self.item_column], strict=True))
        return ids, iter(pairs.split(size))  # each pair named by its user and item

    def labelled(self, path: Path, schema: Any) -> TensorData:
        frame = read_table(path)
        if schema.target not in frame.columns:
            raise DataError(f"{path}: no rating column `{schema.target}` to evaluate")
        ratings = pd.to_numeric(frame[schema.target], errors="coerce")
        if ratings.isna().any():
            raise DataError(f"{path}: column `{schema.target}` must hold numbers only")
        pairs = self.pairs(frame, str(path))
        return TensorData(pairs, torch.as_tensor(ratings.to_numpy(np.float32)))

    def request_columns(self) -> list[str]:
        return [self.user_column, self.item_column]


def _need_column(frame: pd.DataFrame, column: str, origin: str) -> None:
    need_column(frame, column, origin, fix="Set `data.ratings` to name the user, item and rating.")
