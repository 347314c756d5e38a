"""Table rows → model tensors: numbers median-imputed and standardized, free text as TF-IDF
over the text encoder's vocabulary, categories one-hot (+ a slot for missing or unseen
values), all fit on the training split. The row's layout: numbers, texts, categories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.encoder import Encoder
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
    row_number,
)
from deepworks.modalities.table.columns import DATE_PARTS, assign_roles, date_parts
from deepworks.modalities.table.text_columns import fit_text_column, text_features, text_width

pd = lazy_module("pandas")  # imported on first use: most runs read no table

NOVEL_Z = 6.0  # standard deviations from the training mean: out of the data's range


@register_encoder("table")
@dataclass
class TableEncoder(Encoder):
    """Numeric columns: median-impute, then standardize. Categorical: one-hot (+ missing)."""

    inputs = "table"

    numeric: dict[str, dict[str, float]] = field(default_factory=dict)  # col -> median/mean/std
    categorical: dict[str, list[str]] = field(default_factory=dict)  # col -> categories
    missing: dict[str, int] = field(default_factory=dict)  # col -> empty cells in training
    constant: list[str] = field(default_factory=list)  # columns with one value in training
    ignored: dict[str, str] = field(default_factory=dict)  # col -> "id" / "drop": never features
    dates: list[str] = field(default_factory=list)  # read as dates: calendar features
    capped: dict[str, int] = field(default_factory=dict)  # col -> categories before the cap
    texts: dict[str, dict[str, Any]] = field(default_factory=dict)  # col -> vocabulary, idf
    kind: str = "table"

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        origin: str,
        roles: dict[str, str] | None = None,
        max_categories: int = 30,
    ) -> TableEncoder:
        roles = roles or {}
        enc = cls()
        enc.ignored, enc.dates, texts = assign_roles(frame, roles, origin)
        for col in texts:
            enc.texts[col] = fit_text_column(frame[col].dropna(), col)
        frame = date_parts(frame.drop(columns=[*enc.ignored, *texts]), enc.dates)
        if frame.shape[1] == 0 and texts:
            return enc
        if frame.shape[1] == 0:
            raise DataError(f"{origin}: the table has no feature columns besides the target")
        for col in frame.columns:
            if frame[col].isna().any():
                enc.missing[str(col)] = int(frame[col].isna().sum())
            if frame[col].nunique(dropna=True) <= 1:
                enc.constant.append(str(col))
            role = roles.get(str(col))
            if role == "numeric" or (role != "categorical" and looks_numeric(frame[col])):
                values = numeric_column(frame, col, origin)
                median = float(values.median()) if values.notna().any() else 0.0
                filled = values.fillna(median)
                std = float(filled.std(ddof=0)) or 1.0
                enc.numeric[str(col)] = {"median": median, "mean": float(filled.mean()), "std": std}
            else:
                counts = frame[col].dropna().astype(str).value_counts()
                if len(counts) > max_categories:  # the rest share the unseen slot
                    enc.capped[str(col)] = len(counts)
                enc.categorical[str(col)] = sorted(counts.index[:max_categories].tolist())
        return enc

    numeric_keys = ("median", "mean", "std")

    @property
    def columns(self) -> list[str]:
        """The columns an input row must carry (dates as given, not their parts)."""
        parts = {f"{d}.{p}" for d in self.dates for p in DATE_PARTS}
        features = [*self.numeric, *self.texts, *self.categorical]
        return [c for c in features if c not in parts] + self.dates

    @property
    def width(self) -> int:
        texts = sum(text_width(spec) for spec in self.texts.values())
        return len(self.numeric) + texts + sum(len(c) + 1 for c in self.categorical.values())

    def transform(self, frame: pd.DataFrame, origin: str) -> torch.Tensor:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            hint = did_you_mean(missing[0], [c for c in frame.columns if c not in self.columns])
            raise DataError(
                f"{origin}: missing column(s) {', '.join(f'`{c}`' for c in missing)}.{hint} "
                f"Expected columns: {', '.join(self.columns)}."
            )
        frame = date_parts(frame, self.dates)
        parts: list[np.ndarray] = [self._standardized(frame, origin)]
        parts += [text_features(spec, frame[col]) for col, spec in self.texts.items()]
        for col, cats in self.categorical.items():
            values = frame[col].astype("string")
            onehot = np.zeros((len(frame), len(cats) + 1))
            index = {c: i for i, c in enumerate(cats)}
            for r, v in enumerate(values):
                # Unseen and missing categories share the last slot.
                onehot[r, index.get(v, len(cats)) if v is not pd.NA else len(cats)] = 1.0
            parts.append(onehot)
        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            encoded = np.concatenate(parts, axis=1).astype(np.float32)
        self._refuse_non_finite(frame, encoded[:, : len(self.numeric)], origin)
        return torch.from_numpy(encoded)

    def _standardized(self, frame: pd.DataFrame, origin: str) -> np.ndarray:
        """The numeric columns, empty cells filled with the training median, in training
        standard deviations from the training mean: (rows, numeric columns)."""
        block = frame[list(self.numeric)]
        with np.errstate(over="ignore", invalid="ignore"):  # inf and overflow: refused later
            if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):  # one array op
                values = block.to_numpy(dtype=np.float64)
                st = {k: np.array([s[k] for s in self.numeric.values()]) for k in self.numeric_keys}
                values = np.where(np.isnan(values), st["median"], values)
                return (values - st["mean"]) / st["std"]
            columns = []  # text among the numbers: column by column, naming the bad cell
            for col, s in self.numeric.items():
                values = numeric_column(frame, col, origin).fillna(s["median"]).to_numpy()
                columns.append((values - s["mean"]) / s["std"])
            return np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0))

    def _refuse_non_finite(self, frame: pd.DataFrame, numbers: np.ndarray, origin: str) -> None:
        """An infinite number, or one too large to encode, never reaches the model: no silent
        prediction from an input the model cannot read."""
        bad = ~np.isfinite(numbers)
        if not bad.any():
            return
        row, col = (int(i[0]) for i in np.nonzero(bad))
        column = list(self.numeric)[col]
        stats, value = self.numeric[column], frame[column].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise DataError(
            f"{origin}: column `{column}` row {row_number(frame.index[row])} holds "
            f"{value!r}, which is infinite or too large for this model "
            f"(training values: mean {stats['mean']:.4g}, std {stats['std']:.4g}). Give a "
            "finite value in range, or leave the cell empty for a missing value."
        )

    # -- new inputs --------------------------------------------------------------------
    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        frame = frame_of(inputs, self.columns)
        named = [c for c, role in self.ignored.items() if role == "id" and c in frame.columns]
        ids = frame[named[0]].tolist() if named else list(frame.index)  # rows by their ids
        return ids, iter(self.transform(frame, origin_of(inputs)).split(size))

    def novelty(self, inputs: Any) -> list[str]:
        """Per row, what no training row was like: every value empty, a category never seen,
        a number more than NOVEL_Z standard deviations from the training mean."""
        frame = date_parts(frame_of(inputs, self.columns), self.dates)
        origin = origin_of(inputs)
        reasons: list[list[str]] = [[] for _ in range(len(frame))]
        features = [*self.numeric, *self.texts, *self.categorical]
        for row in np.flatnonzero(frame[features].isna().all(axis=1).to_numpy()):
            reasons[row].append("every value is empty")
        with np.errstate(invalid="ignore"):
            far = np.abs(self._standardized(frame, origin)) > NOVEL_Z  # empty cells: the median
        for row, col in zip(*np.nonzero(far), strict=True):
            column = list(self.numeric)[col]
            value = float(pd.to_numeric(frame[column].iloc[row]))
            reasons[row].append(f"`{column}` = {value:g} is far outside training")
        for col, cats in self.categorical.items():
            if col in self.capped:  # rare categories were seen, only not kept
                continue
            known = set(cats)
            for row, value in enumerate(frame[col].astype("string")):
                if value is not pd.NA and value not in known:
                    reasons[row].append(f"`{col}` = {value!r} was never seen in training")
        return ["; ".join(r) for r in reasons]

    def labelled(self, path: Path, schema: Any) -> TensorData:
        frame = read_table(path)
        target = schema.target
        if target not in frame.columns:
            raise DataError(f"{path}: no target column `{target}` to evaluate against")
        x = self.transform(frame.drop(columns=[target]), str(path))
        return TensorData(x, targets_for(schema, frame[target].to_numpy(), str(path)))

    def request_columns(self) -> list[str]:
        return list(self.columns)

    def request_fields(self) -> list[dict[str, Any]]:
        """Numbers default to their training median, categories to the first one."""
        fields = []
        for column in self.columns:
            if column in self.numeric:
                median = self.numeric[column].get("median", 0.0)
                fields.append({"name": column, "kind": "number", "default": median})
            elif column in self.categorical:
                cats = self.categorical[column]
                fields.append({"name": column, "kind": "choice", "choices": cats,
                               "default": cats[0] if cats else ""})  # fmt: skip
            else:  # free text, dates
                fields.append({"name": column, "kind": "text", "default": ""})
        return fields
