"""From a source to train / valid / test datasets, with encoders fit on the training split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.schema import Schema
from deepworks.data.audio import AudioSource, audio_bundle
from deepworks.data.datasets import ImageFileData, TensorData
from deepworks.data.encoders import ImageEncoder, TableEncoder, numeric_column
from deepworks.data.ratings import RatingsSource, ratings_bundle
from deepworks.data.series import series_bundle, series_classification_bundle
from deepworks.data.sources import (
    DATASETS,
    ImageArraySource,
    ImageFileSource,
    Source,
    TableSource,
)
from deepworks.data.text import TextEncoder, TextSource, check_texts, language_model_bundle

# A target column with at most this many distinct integer values is read as class labels.
_MAX_INTEGER_CLASSES = 20
# Image statistics are estimated from at most this many training images.
_STATS_SAMPLE = 512


@dataclass
class DataBundle:
    train: Dataset
    valid: Dataset
    test: Dataset
    schema: Schema
    # The test split's rows as read (tables and text): what per-slice metrics group by.
    test_rows: pd.DataFrame | None = None
    # Forecasts: the whole series and each split's forecast origins (a SeriesSpan).
    span: Any = None


def load_source(cfg: DataConfig) -> Source:
    return DATASETS.get(cfg.dataset)(cfg)


def infer_task(source: Source, cfg: DataConfig, requested: str) -> str:
    if requested != "auto":
        return requested  # type: ignore[return-value]
    if isinstance(source, RatingsSource):
        return "recommendation"
    if isinstance(source, AudioSource):
        return "classification"
    natural = DATASETS.entry(cfg.dataset).meta["task"]
    if natural:
        return natural
    y = source.frame[source.target]
    if y.dtype == object or y.dtype == bool or str(y.dtype) in {"string", "category", "str"}:
        return "classification"
    values = y.dropna()
    is_int = np.allclose(values, np.round(values))
    return "classification" if is_int and values.nunique() <= _MAX_INTEGER_CLASSES else "regression"


def split_indices(
    n: int, labels: np.ndarray | None, cfg: DataConfig, seed: int, origin: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic train / valid / test indices; stratified when labels are given."""
    index = np.arange(n)
    try:
        if cfg.limit is not None and cfg.limit < n:
            index, _ = train_test_split(
                index,
                train_size=cfg.limit,
                random_state=seed,
                stratify=None if labels is None else labels,
            )
        strat = None if labels is None else labels[index]
        rest, test = train_test_split(
            index, test_size=cfg.split.test, random_state=seed, stratify=strat
        )
        strat = None if labels is None else labels[rest]
        valid_share = cfg.split.valid / (1 - cfg.split.test)
        train, valid = train_test_split(
            rest, test_size=valid_share, random_state=seed + 1, stratify=strat
        )
        if cfg.train_size is not None and cfg.train_size < len(train):
            train, _ = train_test_split(
                train,
                train_size=cfg.train_size,
                random_state=seed + 2,
                stratify=None if labels is None else labels[train],
            )
    except ValueError as exc:
        raise DataError(
            f"{origin}: cannot split {len(index)} examples into train/valid/test ({exc}). "
            "Add data, lower `data.split` fractions, or merge rare classes."
        ) from None
    return np.sort(train), np.sort(valid), np.sort(test)


def _encode_labels(values: np.ndarray, origin: str, target: str) -> tuple[np.ndarray, list[str]]:
    as_text = np.asarray([str(v) for v in values])
    classes = sorted(set(as_text.tolist()), key=natural_key)
    if len(classes) < 2:
        raise DataError(f"{origin}: target `{target}` has a single class; need at least 2")
    lookup = {c: i for i, c in enumerate(classes)}
    return np.asarray([lookup[v] for v in as_text], dtype=np.int64), classes


def natural_key(text: str):
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def assemble(
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    **schema: object,
) -> DataBundle:
    """Tensors + split indices → a DataBundle; regression targets get train-split scaling."""
    train = splits[0]
    if schema["task"] == "regression":
        y_train = y_all[train].double()
        schema["target_scale"] = (float(y_train.mean()), float(y_train.std(unbiased=False)) or 1.0)
    schema.setdefault("input_shape", tuple(x_all.shape[1:]))
    parts = (TensorData(x_all[i], y_all[i]) for i in splits)
    return DataBundle(*parts, Schema(**schema))  # type: ignore[arg-type]


def _table_bundle(src: TableSource, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    frame = src.frame
    features = frame.drop(columns=[src.target])
    y_all, labels, classes = _targets(frame, src.target, task, src.origin)
    train, valid, test = split_indices(len(frame), labels, cfg, seed, src.origin)
    encoder = TableEncoder.fit(features.iloc[train], src.origin)
    x_all = encoder.transform(features, src.origin)
    bundle = assemble(
        x_all,
        y_all,
        (train, valid, test),
        modality="table",
        task=task,
        target=src.target,
        classes=classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
    bundle.test_rows = frame.iloc[test].reset_index(drop=True)
    return bundle


def _image_array_bundle(src: ImageArraySource, cfg: DataConfig, seed: int) -> DataBundle:
    train, valid, test = split_indices(len(src.images), src.labels, cfg, seed, src.origin)
    x_all = torch.from_numpy(src.images)
    encoder = ImageEncoder(size=tuple(x_all.shape[2:]), channels=x_all.shape[1])
    encoder.fit_stats(x_all[train])
    x_all = encoder.normalize(x_all)
    y_all = torch.from_numpy(src.labels.astype(np.int64))
    return assemble(
        x_all,
        y_all,
        (train, valid, test),
        modality="image",
        task="classification",
        target="label",
        classes=src.classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )


def _image_file_bundle(src: ImageFileSource, cfg: DataConfig, seed: int) -> DataBundle:
    train, valid, test = split_indices(len(src.paths), src.labels, cfg, seed, src.origin)
    encoder = ImageEncoder(size=src.size, channels=src.channels)
    rng = np.random.default_rng(seed)
    sample = rng.choice(train, size=min(len(train), _STATS_SAMPLE), replace=False)
    encoder.fit_stats(torch.stack([encoder.read(src.paths[i]) for i in sample]))
    y_all = torch.from_numpy(src.labels.astype(np.int64))
    schema = Schema(
        modality="image",
        task="classification",
        input_shape=(src.channels, *src.size),
        target="label",
        classes=src.classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
    parts = [
        ImageFileData([src.paths[j] for j in i], y_all[i], encoder) for i in (train, valid, test)
    ]
    return DataBundle(*parts, schema)


def _targets(
    frame: pd.DataFrame, target: str, task: str, origin: str
) -> tuple[torch.Tensor, np.ndarray | None, list[str] | None]:
    """Targets as a tensor, plus class codes and names for classification."""
    y_raw = frame[target]
    empty = y_raw.isna().to_numpy()
    if empty.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(empty)[:5])
        raise DataError(
            f"{origin}: target `{target}` is empty in {int(empty.sum())} row(s) "
            f"(rows {rows}). Fill them or drop those rows."
        )
    if task == "classification":
        labels, classes = _encode_labels(y_raw.to_numpy(), origin, target)
        return torch.from_numpy(labels), labels, classes
    values = numeric_column(frame, target, origin).to_numpy(dtype=np.float32)
    return torch.tensor(values), None, None


def _text_bundle(src: TextSource, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    if src.target == src.text:
        raise DataError(
            f"{src.origin}: set `data.target` to the label column (or `task: language-model` "
            "to model the text itself)"
        )
    frame = src.frame
    fixed_test = src.test_frame is not None
    if fixed_test:  # the dataset's own test set stays the test split
        frame = pd.concat([frame, src.test_frame], ignore_index=True)
    y_all, labels, classes = _targets(frame, src.target, task, src.origin)
    if fixed_test:
        pool = np.arange(len(src.frame))
        test = np.arange(len(src.frame), len(frame))
        try:
            if cfg.limit and cfg.limit < len(pool):  # `limit` caps train + valid here
                pool, _ = train_test_split(
                    pool,
                    train_size=cfg.limit,
                    random_state=seed,
                    stratify=None if labels is None else labels[pool],
                )
            train, valid = train_test_split(
                pool,
                test_size=cfg.split.valid,
                random_state=seed,
                stratify=None if labels is None else labels[pool],
            )
        except ValueError as exc:
            raise DataError(f"{src.origin}: cannot split the training set ({exc})") from None
        train, valid = np.sort(train), np.sort(valid)
    else:
        train, valid, test = split_indices(len(frame), labels, cfg, seed, src.origin)
    texts = check_texts(frame[src.text], src.origin, src.text)
    encoder = TextEncoder.fit([texts[i] for i in train], cfg.tokenizer, src.text)
    x_all = encoder.encode(texts)
    bundle = assemble(
        x_all,
        y_all,
        (train, valid, test),
        modality="text",
        task=task,
        target=src.target,
        classes=classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
        input_shape=(encoder.max_length,),
    )
    bundle.test_rows = frame.iloc[test].reset_index(drop=True)
    return bundle


def build_bundle(source: Source, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    if isinstance(source, RatingsSource) or task == "recommendation":
        if not isinstance(source, RatingsSource) or task != "recommendation":
            raise DataError(
                f"{source.origin}: recommendation learns from ratings and ratings data is only "
                "for recommendation: use `task: recommendation` with `data.ratings` (the user, "
                "item and rating columns) or the built-in movielens"
            )
        return ratings_bundle(source, cfg, seed)
    if isinstance(source, AudioSource):
        if task != "classification":
            raise DataError(f"{source.origin}: audio data supports classification, not {task}")
        return audio_bundle(source, cfg, seed)
    if task == "forecast":
        if not isinstance(source, TableSource):
            raise DataError(f"{source.origin}: forecasting needs a table of values over time")
        return series_bundle(source, cfg)
    if task == "language-model" and not isinstance(source, TextSource):
        raise DataError(
            f"{source.origin}: a language model learns from text; set `data.text` to the text "
            "column (CSV / JSONL) or use a text dataset"
        )
    if isinstance(source, TableSource) and cfg.series.layout:
        return series_classification_bundle(source, task, cfg, seed)
    if isinstance(source, TableSource):
        return _table_bundle(source, task, cfg, seed)
    if isinstance(source, TextSource):
        if task == "language-model":
            return language_model_bundle(source, cfg, seed)
        return _text_bundle(source, task, cfg, seed)
    if task != "classification":
        raise DataError(f"{source.origin}: image data supports classification, not {task}")
    if isinstance(source, ImageArraySource):
        return _image_array_bundle(source, cfg, seed)
    return _image_file_bundle(source, cfg, seed)
