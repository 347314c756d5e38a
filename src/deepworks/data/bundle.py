"""From a source to train / valid / test datasets, with the encoder fit on the training split.

Each kind of data registers how it builds a bundle for the tasks it serves
(``@register_builder("table", "classification", "regression")``); ``build_bundle`` finds the
builder for the source's kind and the task, and says plainly when the two do not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.core.task import TASKS, has_tag
from deepworks.data.datasets import TensorData
from deepworks.data.sources import DATASETS, Source
from deepworks.data.splits import encode_labels
from deepworks.data.tables import numeric_column, row_number

pd = lazy_module("pandas")  # imported on first use: most runs read no table

# A target column with at most this many distinct integer values is read as class labels.
_MAX_INTEGER_CLASSES = 20


@dataclass
class DataBundle:
    train: Dataset
    valid: Dataset
    test: Dataset
    schema: Schema
    # The test split's rows as read (tables and text): what per-slice metrics group by.
    test_rows: pd.DataFrame | None = None
    # Every split's rows as read, target included: what the audit compares for duplicates.
    raw_rows: dict[str, pd.DataFrame] | None = None
    # Forecasts: the whole series and each split's forecast origins (a SeriesSpan).
    span: Any = None


Builder = Callable[[Any, str, DataConfig, int], DataBundle]
# (kind of data, task) → how to build the bundle
BUILDERS: dict[tuple[str, str], Builder] = {}


def register_builder(modality: str, *tasks: str):
    """Register ``build(source, task, cfg, seed)`` for sources of ``modality`` and ``tasks``."""

    def decorator(build: Builder) -> Builder:
        for task in tasks:
            BUILDERS[(modality, task)] = build
        return build

    return decorator


def load_source(cfg: DataConfig) -> Source:
    return DATASETS.get(cfg.dataset)(cfg)


def infer_task(source: Source, cfg: DataConfig, requested: str) -> str:
    """The task `auto` means: the source's or the dataset's own, else what the target looks
    like (text or few integer values: classification; otherwise regression)."""
    if requested != "auto":
        return requested
    natural = source.natural_task or DATASETS.entry(cfg.dataset).meta["task"]
    if natural:
        return natural
    y = source.frame[source.target]
    if y.dtype == object or y.dtype == bool or str(y.dtype) in {"string", "category", "str"}:
        _refuse_stray_text(y, source)
        return "classification"
    values = y.dropna()
    is_int = np.allclose(values, np.round(values))
    return "classification" if is_int and values.nunique() <= _MAX_INTEGER_CLASSES else "regression"


def _refuse_stray_text(y: pd.Series, source: Source) -> None:
    """A target of numbers with a few words among them is a numeric column with typos, not
    classes: say where, rather than guess classification from the typos."""
    filled = y.dropna()
    numbers = pd.to_numeric(filled, errors="coerce")
    if len(filled) and numbers.isna().any() and numbers.notna().mean() >= 0.9:
        row = numbers.index[numbers.isna()][0]
        raise DataError(
            f"{source.origin}: target `{source.target}` holds numbers but row {row_number(row)} "
            f"holds {filled[row]!r}. Fix the value, or set `task: classification` if these "
            "are labels."
        )


def build_bundle(source: Source, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    build = BUILDERS.get((source.modality, task))
    if build is None:
        served = sorted(t for m, t in BUILDERS if m == source.modality)
        needs = TASKS.get(task).data_hint if task in TASKS else ""
        raise DataError(
            f"{source.origin}: {source.modality} data supports {', '.join(served)}, not {task}"
            + (f"; {needs}" if needs else "")
        )
    return build(source, task, cfg, seed)


def assemble(
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: pd.DataFrame | None = None,
    **schema: object,
) -> DataBundle:
    """Tensors + split indices → a DataBundle; regression targets get train-split scaling;
    ``rows``, the data as read, keeps the test split's rows (what slices group by)."""
    train = splits[0]
    if schema["task"] == "regression":
        y_train = y_all[train].double()
        schema["target_scale"] = (float(y_train.mean()), float(y_train.std(unbiased=False)) or 1.0)
    schema.setdefault("input_shape", tuple(x_all.shape[1:]))
    parts = (TensorData(x_all[i], y_all[i]) for i in splits)
    bundle = DataBundle(*parts, Schema(**schema))  # type: ignore[arg-type]
    if rows is not None:
        bundle.test_rows = rows.iloc[splits[2]].reset_index(drop=True)
        names = ("train", "valid", "test")
        bundle.raw_rows = {n: rows.iloc[i] for n, i in zip(names, splits, strict=True)}
    return bundle


def targets(
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
    if has_tag(task, "classifies"):
        labels, classes = encode_labels(y_raw.to_numpy(), origin, target)
        return torch.from_numpy(labels), labels, classes
    values = numeric_column(frame, target, origin).to_numpy(dtype=np.float32)
    return torch.tensor(values), None, None


def targets_for(schema: Schema, values: np.ndarray, origin: str) -> torch.Tensor:
    """Labels read from a new labelled file as the run's targets: class indices (a label not
    seen in training is an error naming it), or numbers."""
    if not schema.classes:  # numbers, finite: an inf target would make every error inf
        column = pd.DataFrame({schema.target: values})
        numbers = numeric_column(column, schema.target, origin).to_numpy(np.float32)
        if np.isnan(numbers).any():
            row = row_number(int(np.flatnonzero(np.isnan(numbers))[0]))
            raise DataError(f"{origin}: target `{schema.target}` is empty in row {row}")
        return torch.as_tensor(numbers)
    lookup = {c: i for i, c in enumerate(schema.classes)}
    lookup |= {alias: lookup[c] for alias, c in schema.label_aliases.items()}
    unknown = sorted({str(v) for v in values} - set(lookup))
    if unknown:
        raise DataError(
            f"{origin}: label(s) {', '.join(unknown[:5])} were not seen in training "
            f"(known: {', '.join(lookup)})"
        )
    return torch.as_tensor([lookup[str(v)] for v in values])
