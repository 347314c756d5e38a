"""Audio sources (a folder of WAVs per class, a table of paths and labels, the built-in spoken
digits) and their bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, register_builder
from deepworks.data.folders import class_folders
from deepworks.data.sources import Source, reads_tables, register_dataset
from deepworks.data.splits import encode_labels, split_indices
from deepworks.data.tables import need_column, need_path, need_target
from deepworks.modalities.audio.encoder import WAV_SUFFIXES, AudioData, AudioEncoder

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@dataclass
class AudioSource(Source):
    modality: ClassVar[str] = "audio"
    natural_task: ClassVar[str | None] = "classification"
    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    origin: str
    test_paths: list[Path] | None = None  # a dataset's own test set (unseen speakers)
    test_labels: np.ndarray | None = None


@register_dataset(
    "audio-folder", "classification", "audio", "one subfolder of WAV files per class", False
)
def audio_folder(cfg: Any) -> AudioSource:
    root = need_path(cfg, "folder of WAV files (one subfolder per class)")
    paths, labels, classes = class_folders(root, WAV_SUFFIXES, ".wav files")
    return AudioSource(paths, labels, classes, str(root))


@reads_tables(lambda cfg: cfg.audio is not None and cfg.transcript is None)
def audio_file_table(frame: pd.DataFrame, cfg: DataConfig, path: Path) -> AudioSource:
    need_column(frame, cfg.audio, str(path), "audio")
    return audio_table(frame, cfg.audio, need_target(cfg, frame, str(path)), path)


def audio_table(frame: Any, column: str, target: str, origin: Path) -> AudioSource:
    """A table of (path, label) rows; relative paths are relative to the table's folder."""
    if frame[column].isna().any():
        row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
        raise DataError(f"{origin}: column `{column}` is empty in row {row + 2}")
    paths = [Path(p) if Path(p).is_absolute() else origin.parent / p for p in frame[column]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{origin}: {len(missing)} audio file(s) not found, first {missing[0]}")
    labels, classes = encode_labels(frame[target].to_numpy(), str(origin), target)
    return AudioSource(paths, labels, classes, str(origin))


@register_builder("audio", "classification")
def audio_bundle(src: AudioSource, task: str, cfg: Any, seed: int) -> DataBundle:
    encoder = AudioEncoder(max_seconds=cfg.max_clip_seconds)
    waves = torch.stack([encoder.load(p) for p in src.paths])
    y = torch.from_numpy(src.labels.astype(np.int64))
    if src.test_paths is not None:  # the dataset's own test set; valid comes from the rest
        from sklearn.model_selection import train_test_split

        test_waves = torch.stack([encoder.load(p) for p in src.test_paths])
        test_y = torch.from_numpy(src.test_labels.astype(np.int64))  # type: ignore[union-attr]
        pool = np.arange(len(waves))
        if cfg.limit and cfg.limit < len(pool):  # `limit` caps train + valid, as for fine-foods
            pool, _ = train_test_split(
                pool, train_size=cfg.limit, random_state=seed, stratify=src.labels
            )
        train, valid = train_test_split(
            pool, test_size=cfg.split.valid, random_state=seed, stratify=src.labels[pool]
        )
        if cfg.train_size and cfg.train_size < len(train):
            train, _ = train_test_split(
                train, train_size=cfg.train_size, random_state=seed + 2, stratify=src.labels[train]
            )
    else:
        train, valid, test = split_indices(len(waves), src.labels, cfg, seed, src.origin)
        test_waves, test_y = waves[test], y[test]
    encoder.fit_stats(waves[train])
    schema = Schema(
        modality="audio",
        task="classification",
        input_shape=encoder.shape,
        target="label",
        classes=src.classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
    return DataBundle(
        AudioData(waves[train], y[train], encoder),
        AudioData(waves[valid], y[valid], encoder),
        AudioData(test_waves, test_y, encoder),
        schema,
    )
