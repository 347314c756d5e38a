"""Series → model tensors: forecast windows scaled with training-span statistics, or labelled
series (one per row, or rows grouped by an id) standardized per feature."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.encoder import Encoder, RequestFormat
from deepworks.core.errors import DataError, did_you_mean
from deepworks.core.lazy import lazy_module
from deepworks.data.bundle import targets_for
from deepworks.data.datasets import TensorData
from deepworks.data.encoders import register_encoder
from deepworks.data.tables import (
    frame_of,
    looks_numeric,
    numeric_column,
    origin_of,
    read_table,
)

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@register_encoder("series")
@dataclass
class SeriesEncoder(Encoder):
    """Column order and train-span statistics; column 0 is the forecast target."""

    inputs = "series"

    columns: list[str]
    window: int
    season: int
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    mase_scale: float = 1.0  # in-sample seasonal-naive MAE on the training span
    time: str | None = None
    kind: str = "series"

    def values(self, frame: pd.DataFrame, origin: str) -> np.ndarray:
        """The columns as a (T, F) float array; missing columns and gaps are errors."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            hint = did_you_mean(missing[0], [str(c) for c in frame.columns])
            raise DataError(f"{origin}: no column `{missing[0]}`.{hint}")
        if self.time and self.time in frame.columns:
            frame = frame.sort_values(self.time)
        values = np.stack(
            [numeric_column(frame, c, origin).to_numpy(dtype=np.float64) for c in self.columns], 1
        )
        gaps = np.isnan(values).any(axis=1)
        if gaps.any():
            first = int(np.flatnonzero(gaps)[0])
            raise DataError(
                f"{origin}: the series has {int(gaps.sum())} missing value(s) (first at row "
                f"{first + 1}). Fill the gaps (e.g. interpolate) or drop those rows."
            )
        return values

    def scale(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((values - np.asarray(self.mean)) / np.asarray(self.std)).float()

    def windows(self, scaled: torch.Tensor, targets: np.ndarray, horizon: int, ends: range):
        """Inputs (N, window, F) ending before each origin in ``ends``, and their next steps."""
        x = torch.stack([scaled[t - self.window : t] for t in ends])
        y = torch.as_tensor(np.stack([targets[t : t + horizon] for t in ends])).float()
        return x, y

    # -- new inputs --------------------------------------------------------------------
    request = RequestFormat(grouped=True, help='the series\' recent rows: {"rows": [...]}')

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """One input: the forecast after the series' last window; its id is the times forecast
        (when the series has a time column whose spacing is regular), else the row count."""
        frame = frame_of(inputs, self.columns)
        values = self.values(frame, origin_of(inputs))
        if len(values) < self.window:
            raise DataError(
                f"{origin_of(inputs)}: {len(values)} rows given; the model needs the last "
                f"{self.window} values of the series to forecast from"
            )
        future = self.future_times(frame, schema.n_outputs)
        return [future or len(values)], iter([self.scale(values[-self.window :])[None]])

    def future_times(self, frame: pd.DataFrame, horizon: int) -> list[Any] | None:
        """The ``horizon`` times after the last row, at the series' own spacing (numbers step
        by their usual difference; dates by their inferred frequency)."""
        if not self.time or self.time not in frame.columns:
            return None
        if looks_numeric(frame[self.time]):
            steps = pd.to_numeric(frame[self.time], errors="coerce").dropna().sort_values()
            if len(steps) < 2:
                return None
            step = float(steps.diff().median())
            return [(steps.iloc[-1] + step * (i + 1)).item() for i in range(horizon)]
        times = pd.to_datetime(frame[self.time], errors="coerce").dropna().sort_values()
        if len(times) < 3:
            return None
        freq = pd.infer_freq(times.tail(12))
        if freq is None:
            return None
        ahead = pd.date_range(times.iloc[-1], periods=horizon + 1, freq=freq)[1:]
        return [str(t.date()) if t == t.normalize() else str(t) for t in ahead]

    def labelled(self, path: Path, schema: Any) -> TensorData:
        """Every window of the given series."""
        horizon = schema.n_outputs
        values = self.values(read_table(path), str(path))
        ends = range(self.window, len(values) - horizon + 1)
        if len(ends) == 0:
            raise DataError(
                f"{path}: {len(values)} rows; evaluating needs at least window + horizon = "
                f"{self.window + horizon}"
            )
        return TensorData(*self.windows(self.scale(values), values[:, 0], horizon, ends))

    def request_columns(self) -> list[str]:
        return list(self.columns)


@register_encoder("series-set")
@dataclass
class SeriesSetEncoder(Encoder):
    """Labelled series from a table: `wide` (a row is a series) or `long` (rows grouped by id).

    Values are standardized per feature with training-series statistics.
    """

    inputs = "series"

    layout: str
    columns: list[str]  # wide: the steps in order; long: the features
    length: int
    id: str | None = None
    time: str | None = None
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    kind: str = "series-set"

    @classmethod
    def infer(
        cls, frame: pd.DataFrame, target: str | None, s: Any, origin: str
    ) -> SeriesSetEncoder:
        skip = {target, s.id, s.time}
        columns = s.features or [str(c) for c in frame.columns if c not in skip]
        if s.layout == "long" and not s.id:
            raise DataError(f"{origin}: the long layout needs `data.series.id`: the series column")
        for column in [*columns, *([s.id] if s.id else [])]:
            if column not in frame.columns:
                hint = did_you_mean(column, [str(c) for c in frame.columns])
                raise DataError(f"{origin}: no column `{column}`.{hint}")
        return cls(s.layout, columns, 0, s.id, s.time)

    def arrays(self, frame: pd.DataFrame, origin: str) -> tuple[list[Any], np.ndarray]:
        """(ids, values (N, length, F)); gaps and unequal lengths are errors."""
        numeric = np.stack(
            [numeric_column(frame, c, origin).to_numpy(dtype=np.float64) for c in self.columns], 1
        )
        if np.isnan(numeric).any():
            row = int(np.flatnonzero(np.isnan(numeric).any(1))[0])
            raise DataError(
                f"{origin}: the series have missing values (first at row {row + 1}); fill the "
                "gaps (e.g. interpolate) or drop those series"
            )
        if self.layout == "wide":
            return list(frame.index), numeric[:, :, None]
        positions = {key: idx for key, idx in frame.groupby(self.id, sort=False).indices.items()}
        order = self.time if self.time in frame.columns else None
        series, ids = [], []
        for key, idx in positions.items():
            rows = idx[np.argsort(frame[order].to_numpy()[idx], kind="stable")] if order else idx
            series.append(numeric[rows])
            ids.append(key)
        lengths = {len(v) for v in series}
        if len(lengths) > 1:
            raise DataError(
                f"{origin}: series have different lengths ({min(lengths)}-{max(lengths)} steps); "
                "resample or trim them to one length"
            )
        return ids, np.stack(series)

    def labels(self, frame: pd.DataFrame, target: str, ids: list[Any], origin: str) -> np.ndarray:
        """One label per series, in the order of ``ids``; empty or changing labels are errors."""
        if self.layout == "wide":
            raw = frame.loc[ids, target].to_numpy()
        else:
            per_series = frame.groupby(self.id, sort=False)[target].agg(
                lambda v: v.iloc[0] if v.nunique() == 1 else None
            )
            raw = per_series.loc[ids].to_numpy()
        if pd.isna(raw).any():
            raise DataError(
                f"{origin}: each series needs one label; `{target}` is empty or changes "
                "within some series"
            )
        return raw

    def tensor(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((values - np.asarray(self.mean)) / np.asarray(self.std)).float()

    # -- new inputs --------------------------------------------------------------------
    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """One prediction per series."""
        ids, values = self.arrays(frame_of(inputs, self.columns), origin_of(inputs))
        if values.shape[1] != self.length:
            raise DataError(
                f"{origin_of(inputs)}: series of {values.shape[1]} steps given; this model "
                f"takes {self.length}"
            )
        return ids, iter(self.tensor(values).split(size))

    def labelled(self, path: Path, schema: Any) -> TensorData:
        frame = read_table(path)
        if schema.target not in frame.columns:
            raise DataError(f"{path}: no label column `{schema.target}` to evaluate against")
        ids, values = self.arrays(frame, str(path))
        labels = self.labels(frame, schema.target, ids, str(path))
        return TensorData(self.tensor(values), targets_for(schema, labels, str(path)))

    def request_columns(self) -> list[str]:
        return list(self.columns)
