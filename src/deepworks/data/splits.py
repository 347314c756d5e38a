"""Splitting examples into train / valid / test, and class labels: written once for every kind
of data. Splits are stratified by class and a function of the seed alone."""

from __future__ import annotations

import numpy as np

from deepworks.config import DataConfig
from deepworks.core.errors import DataError


def split_indices(
    n: int, labels: np.ndarray | None, cfg: DataConfig, seed: int, origin: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic train / valid / test indices; stratified when labels are given."""
    from sklearn.model_selection import train_test_split  # a run's start, never a prediction

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
            f"{origin}: cannot split {len(index)} examples into train/valid/test "
            f"({_short(exc)}). "
            "Add data, lower `data.split` fractions, or merge rare classes."
        ) from None
    return np.sort(train), np.sort(valid), np.sort(test)


def split_keeping_test(
    pool: np.ndarray, labels: np.ndarray | None, cfg, seed: int, origin: str
) -> tuple[np.ndarray, np.ndarray]:
    """Train and valid indices from ``pool`` when the dataset brings its own test set (which
    stays the test split); ``data.limit`` caps train + valid."""
    from sklearn.model_selection import train_test_split

    try:
        if cfg.limit and cfg.limit < len(pool):
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
        raise DataError(f"{origin}: cannot split the training set ({_short(exc)})") from None
    return np.sort(train), np.sort(valid)


def encode_labels(values: np.ndarray, origin: str, target: str) -> tuple[np.ndarray, list[str]]:
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


def _short(exc: Exception, limit: int = 200) -> str:
    """scikit-learn's reason on one line, without the arrays it sometimes lists."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "…"
