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
from deepworks.data.encoders import numeric_column
from deepworks.errors import DataError, did_you_mean, require


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
    from deepworks.data.bundle import DataBundle
    from deepworks.data.datasets import TensorData
    from deepworks.data.schema import Schema

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
    return DataBundle(*(TensorData(x, y) for x, y in splits), schema)
