"""From a source to train / valid / test datasets, with encoders fit on the training split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

from deepworks.config import DataConfig
from deepworks.data.datasets import ImageFileData, TensorData
from deepworks.data.encoders import ImageEncoder, TableEncoder, numeric_column
from deepworks.data.schema import Schema, TaskKind
from deepworks.data.sources import (
    DATASETS,
    ImageArraySource,
    ImageFileSource,
    Source,
    TableSource,
)
from deepworks.errors import DataError

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


def load_source(cfg: DataConfig) -> Source:
    return DATASETS.get(cfg.dataset)(cfg)


def infer_task(source: Source, cfg: DataConfig, requested: str) -> TaskKind:
    if requested != "auto":
        return requested  # type: ignore[return-value]
    natural = DATASETS.entry(cfg.dataset).meta["task"]
    if natural:
        return natural
    assert isinstance(source, TableSource)
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
    except ValueError as exc:
        raise DataError(
            f"{origin}: cannot split {len(index)} examples into train/valid/test ({exc}). "
            "Add data, lower `data.split` fractions, or merge rare classes."
        ) from None
    return np.sort(train), np.sort(valid), np.sort(test)


def _encode_labels(values: np.ndarray, origin: str, target: str) -> tuple[np.ndarray, list[str]]:
    as_text = np.asarray([str(v) for v in values])
    classes = sorted(set(as_text.tolist()), key=_natural_key)
    if len(classes) < 2:
        raise DataError(f"{origin}: target `{target}` has a single class; need at least 2")
    lookup = {c: i for i, c in enumerate(classes)}
    return np.asarray([lookup[v] for v in as_text], dtype=np.int64), classes


def _natural_key(text: str):
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _table_bundle(src: TableSource, task: TaskKind, cfg: DataConfig, seed: int) -> DataBundle:
    frame = src.frame
    y_raw = frame[src.target]
    empty = y_raw.isna().to_numpy()
    if empty.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(empty)[:5])
        raise DataError(
            f"{src.origin}: target `{src.target}` is empty in {int(empty.sum())} row(s) "
            f"(rows {rows}). Fill them or drop those rows."
        )
    features = frame.drop(columns=[src.target])
    if task == "classification":
        labels, classes = _encode_labels(y_raw.to_numpy(), src.origin, src.target)
        y_all = torch.from_numpy(labels)
    else:
        labels, classes = None, None
        y_all = torch.tensor(numeric_column(frame, src.target, src.origin).to_numpy())
    train, valid, test = split_indices(len(frame), labels, cfg, seed, src.origin)
    encoder = TableEncoder.fit(features.iloc[train], src.origin)
    x_all = encoder.transform(features, src.origin)
    scale = None
    if task == "regression":
        y_train = y_all[train]
        scale = (float(y_train.mean()), float(y_train.std(unbiased=False)) or 1.0)
        y_all = y_all.float()
    schema = Schema(
        modality="table",
        task=task,
        input_shape=(encoder.width,),
        target=src.target,
        classes=classes,
        encoder=encoder.to_dict(),
        target_scale=scale,
        origin=src.origin,
    )
    return DataBundle(*(TensorData(x_all[i], y_all[i]) for i in (train, valid, test)), schema)


def _image_array_bundle(src: ImageArraySource, cfg: DataConfig, seed: int) -> DataBundle:
    train, valid, test = split_indices(len(src.images), src.labels, cfg, seed, src.origin)
    x_all = torch.from_numpy(src.images)
    encoder = ImageEncoder(size=tuple(x_all.shape[2:]), channels=x_all.shape[1])
    encoder.fit_stats(x_all[train])
    x_all = encoder.normalize(x_all)
    y_all = torch.from_numpy(src.labels.astype(np.int64))
    schema = Schema(
        modality="image",
        task="classification",
        input_shape=tuple(x_all.shape[1:]),
        target="label",
        classes=src.classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
    return DataBundle(*(TensorData(x_all[i], y_all[i]) for i in (train, valid, test)), schema)


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


def build_bundle(source: Source, task: TaskKind, cfg: DataConfig, seed: int) -> DataBundle:
    if isinstance(source, TableSource):
        return _table_bundle(source, task, cfg, seed)
    if task != "classification":
        raise DataError(f"{source.origin}: image data supports classification, not {task}")
    if isinstance(source, ImageArraySource):
        return _image_array_bundle(source, cfg, seed)
    return _image_file_bundle(source, cfg, seed)


def load_data(cfg: DataConfig, task: str = "auto", seed: int = 0) -> DataBundle:
    """Load, split and encode the configured data.

    >>> from deepworks.config import DataConfig
    >>> bundle = load_data(DataConfig(dataset="iris"))
    >>> bundle.schema.classes
    ['setosa', 'versicolor', 'virginica']
    """
    source = load_source(cfg)
    return build_bundle(source, infer_task(source, cfg, task), cfg, seed)
