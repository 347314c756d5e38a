"""Time series for forecasting: built-in series, time-ordered splits, sliding windows.

Splits follow time: train is the earliest span, then valid, then test, and a window's targets
always lie inside its own split (its inputs may look back into the previous span, as they
would at forecast time). Scaling is fit on the training span only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, did_you_mean, require
from deepworks.data.encoders import numeric_column


@dataclass
class SeriesEncoder:
    """Column order and train-span statistics; column 0 is the forecast target."""

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def register_series_sources() -> None:
    from deepworks.data.sources import register_dataset as add

    add("co2", "forecast", "series", "Mauna Loa CO2, monthly 1958-2001 (statsmodels)")(co2)
    add("sunspots", "forecast", "series", "yearly sunspot activity 1700-2008 (statsmodels)")(
        sunspots
    )


def co2(cfg: DataConfig):
    from deepworks.data.sources import TableSource

    sm = require("statsmodels.api", "timeseries", "the co2 dataset")
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    # Weekly readings with gaps → monthly means; the few empty months are interpolated.
    monthly = weekly.resample("MS").mean().interpolate()
    frame = monthly.rename("co2").rename_axis("month").reset_index()
    return TableSource(frame, "co2", "co2", season=12)


def sunspots(cfg: DataConfig):
    from deepworks.data.sources import TableSource

    sm = require("statsmodels.api", "timeseries", "the sunspots dataset")
    frame = sm.datasets.sunspots.load_pandas().data.rename(
        columns={"YEAR": "year", "SUNACTIVITY": "activity"}
    )
    return TableSource(frame, "activity", "sunspots", season=11)


def series_bundle(src, cfg: DataConfig):
    from deepworks.core.schema import Schema
    from deepworks.data.bundle import DataBundle
    from deepworks.data.datasets import TensorData

    s = cfg.series
    season = s.season or src.season or 1
    if s.window < season:
        raise DataError(
            f"data.series.window ({s.window}) is shorter than the season ({season}); the "
            f"seasonal-naive baseline needs a whole season: set window ≥ {season}"
        )
    encoder = SeriesEncoder([src.target, *s.features], s.window, season, time=s.time)
    values = encoder.values(src.frame, src.origin)
    n = len(values)
    n_test, n_valid = round(n * cfg.split.test), round(n * cfg.split.valid)
    train_end, valid_end = n - n_test - n_valid, n - n_test
    for name, start, end in (
        ("train", s.window, train_end),
        ("valid", train_end, valid_end),
        ("test", valid_end, n),
    ):
        if end - max(start, s.window) < s.horizon:
            raise DataError(
                f"{src.origin}: the {name} span ({end - start} of {n} points) is shorter than "
                f"window + horizon allows (horizon {s.horizon}); use a shorter horizon or window, "
                f"or a larger `data.split` share"
            )
    train_values = values[:train_end]
    encoder.mean = train_values.mean(0).tolist()
    encoder.std = [v or 1.0 for v in train_values.std(0).tolist()]
    target = values[:, 0]
    naive_errors = np.abs(target[season:train_end] - target[: train_end - season])
    encoder.mase_scale = float(naive_errors.mean()) or 1.0
    scaled = encoder.scale(values)
    splits = [
        encoder.windows(scaled, target, s.horizon, range(max(start, s.window), end - s.horizon + 1))
        for start, end in ((0, train_end), (train_end, valid_end), (valid_end, n))
    ]
    schema = Schema(
        modality="series",
        task="forecast",
        input_shape=(s.window, len(encoder.columns)),
        target=src.target,
        encoder=encoder.to_dict(),
        origin=src.origin,
        horizon=s.horizon,
        target_scale=(encoder.mean[0], encoder.std[0]),
    )
    bundle = DataBundle(*(TensorData(x, y) for x, y in splits), schema)
    bundle.span = SeriesSpan(
        target,
        train_end,
        {
            "valid": list(range(max(train_end, s.window), valid_end - s.horizon + 1)),
            "test": list(range(max(valid_end, s.window), n - s.horizon + 1)),
        },
    )
    return bundle


@dataclass
class SeriesSpan:
    """A forecast bundle's whole target series (real units), where training ends, and each
    split's forecast origins (window i of a split forecasts values[origin:origin+horizon]):
    what statistical forecasters fit and roll over."""

    values: np.ndarray
    train_end: int
    origins: dict[str, list[int]]


# --------------------------------------------------------------------------- classification


@dataclass
class SeriesSetEncoder:
    """Labelled series from a table: `wide` (a row is a series) or `long` (rows grouped by id).

    Values are standardized per feature with training-series statistics.
    """

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def series_classification_bundle(src, task: str, cfg: DataConfig, seed: int):
    from deepworks.data.bundle import _encode_labels, assemble, split_indices

    encoder = SeriesSetEncoder.infer(src.frame, src.target, cfg.series, src.origin)
    ids, values = encoder.arrays(src.frame, src.origin)
    raw = encoder.labels(src.frame, src.target, ids, src.origin)
    if task != "classification":
        raise DataError(f"{src.origin}: labelled series support classification, not {task}")
    labels, classes = _encode_labels(raw, src.origin, src.target)
    train, valid, test = split_indices(len(values), labels, cfg, seed, src.origin)
    encoder.length = values.shape[1]
    encoder.mean = values[train].mean(axis=(0, 1)).tolist()
    encoder.std = [v or 1.0 for v in values[train].std(axis=(0, 1)).tolist()]
    return assemble(
        encoder.tensor(values),
        torch.from_numpy(labels),
        (train, valid, test),
        modality="series",
        task="classification",
        target=src.target,
        classes=classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
