"""Turn raw inputs (table rows, image files) into model tensors.

Encoders are fit on the training split only and saved as plain JSON, so a reloaded run encodes
new data exactly as it encoded its training data, without unpickling anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from deepworks.core.errors import DataError, did_you_mean

# An object column is meant to be numeric when most of its values parse as numbers.
_NUMERIC_SHARE = 0.8


def numeric_column(frame: pd.DataFrame, column: str, origin: str) -> pd.Series:
    """The column as floats; a stray text value in a numeric column is an error naming it."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    parsed = pd.to_numeric(series, errors="coerce")
    bad = parsed.isna() & series.notna() & (series.astype(str).str.strip() != "")
    if bad.any():
        first = series.index[bad.to_numpy()][0]  # the file's own row, not a split's position
        raise DataError(
            f"{origin}: column `{column}` is numeric but row {_row(first)} holds "
            f"{series.loc[first]!r}. Fix the value, or leave the cell empty for a missing value."
        )
    return parsed.astype(float)


def _row(label: object) -> str:
    """A 1-based data row number (the header is not counted) for a default RangeIndex."""
    return str(label + 1) if isinstance(label, int | np.integer) else repr(label)


def looks_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    values = series.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return True
    return pd.to_numeric(values, errors="coerce").notna().mean() >= _NUMERIC_SHARE


@dataclass
class TableEncoder:
    """Numeric columns: median-impute, then standardize. Categorical: one-hot (+ missing)."""

    numeric: dict[str, dict[str, float]] = field(default_factory=dict)  # col -> median/mean/std
    categorical: dict[str, list[str]] = field(default_factory=dict)  # col -> categories
    missing: dict[str, int] = field(default_factory=dict)  # col -> empty cells in training
    constant: list[str] = field(default_factory=list)  # columns with one value in training
    kind: str = "table"

    @classmethod
    def fit(cls, frame: pd.DataFrame, origin: str) -> TableEncoder:
        enc = cls()
        if frame.shape[1] == 0:
            raise DataError(f"{origin}: the table has no feature columns besides the target")
        for col in frame.columns:
            if frame[col].isna().any():
                enc.missing[str(col)] = int(frame[col].isna().sum())
            if frame[col].nunique(dropna=True) <= 1:
                enc.constant.append(str(col))
            if looks_numeric(frame[col]):
                values = numeric_column(frame, col, origin)
                median = float(values.median()) if values.notna().any() else 0.0
                filled = values.fillna(median)
                std = float(filled.std(ddof=0)) or 1.0
                enc.numeric[str(col)] = {"median": median, "mean": float(filled.mean()), "std": std}
            else:
                cats = sorted(frame[col].dropna().astype(str).unique().tolist())
                enc.categorical[str(col)] = cats
        return enc

    numeric_keys = ("median", "mean", "std")

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(c) + 1 for c in self.categorical.values())

    def transform(self, frame: pd.DataFrame, origin: str) -> torch.Tensor:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            hint = did_you_mean(missing[0], [c for c in frame.columns if c not in self.columns])
            raise DataError(
                f"{origin}: missing column(s) {', '.join(f'`{c}`' for c in missing)}.{hint} "
                f"Expected columns: {', '.join(self.columns)}."
            )
        parts: list[np.ndarray] = []
        block = frame[list(self.numeric)]
        if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):  # one array op
            values = block.to_numpy(dtype=np.float64)
            stats = {k: np.array([s[k] for s in self.numeric.values()]) for k in self.numeric_keys}
            values = np.where(np.isnan(values), stats["median"], values)
            parts.append((values - stats["mean"]) / stats["std"])
        else:  # text among the numbers: column by column, naming the bad cell
            for col, st in self.numeric.items():
                values = numeric_column(frame, col, origin).fillna(st["median"]).to_numpy()
                parts.append(((values - st["mean"]) / st["std"])[:, None])
        for col, cats in self.categorical.items():
            values = frame[col].astype("string")
            onehot = np.zeros((len(frame), len(cats) + 1))
            index = {c: i for i, c in enumerate(cats)}
            for r, v in enumerate(values):
                # Unseen and missing categories share the last slot.
                onehot[r, index.get(v, len(cats)) if v is not pd.NA else len(cats)] = 1.0
            parts.append(onehot)
        return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImageEncoder:
    """Load an image file as a (C, H, W) float tensor in [0, 1], then normalize per channel."""

    size: tuple[int, int]
    channels: int
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    kind: str = "image"

    def read(self, path: Path) -> torch.Tensor:
        try:
            with Image.open(path) as img:
                img = img.convert("L" if self.channels == 1 else "RGB")
                img = img.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
                array = np.asarray(img, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(
                f"{path}: not a readable image ({exc}). Replace or remove the file."
            ) from None
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.mean:
            return x
        shape = (-1, 1, 1)
        mean = torch.tensor(self.mean).view(shape)
        std = torch.tensor(self.std).view(shape)
        return (x - mean) / std

    def encode_file(self, path: Path) -> torch.Tensor:
        return self.normalize(self.read(path))

    def fit_stats(self, images: torch.Tensor) -> None:
        """Per-channel mean and std from a (N, C, H, W) batch of training images."""
        self.mean = images.mean(dim=(0, 2, 3)).tolist()
        self.std = [s or 1.0 for s in images.std(dim=(0, 2, 3)).tolist()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def encoder_from_dict(d: dict[str, Any]) -> Any:
    d = dict(d)
    kind = d.get("kind")
    if kind == "table":
        return TableEncoder(**d)
    if kind == "image":
        d["size"] = tuple(d["size"])
        return ImageEncoder(**d)
    if kind == "series":
        from deepworks.data.series import SeriesEncoder

        return SeriesEncoder(**d)
    if kind == "series-set":
        from deepworks.data.series import SeriesSetEncoder

        return SeriesSetEncoder(**d)
    if kind == "audio":
        from deepworks.data.audio import AudioEncoder

        return AudioEncoder(**d)
    if kind == "ratings":
        from deepworks.data.ratings import RatingsEncoder

        return RatingsEncoder(**d)
    if kind == "text":
        from deepworks.data.text import TextEncoder

        return TextEncoder(**d)
    raise ValueError(f"unknown encoder kind {kind!r}")
