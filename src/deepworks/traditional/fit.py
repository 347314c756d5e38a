"""Fitting baselines and keeping what they output on the test split, for the run to score.

A fit leaves ``<key>.fit.npz`` in the given folder (the leaderboard's cache): the outputs the
task's metric scores (class probabilities, values, or anomaly scores), the fit's seconds and
the estimator's pickled size. It is written whole or not at all, so a helper stopped halfway
leaves nothing half-written to trust.
"""

from __future__ import annotations

import inspect
import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepworks.traditional.estimators import BASELINES

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, y: train, test


def warm() -> None:
    """What a helper fitting baselines loads before it is given them."""
    import sklearn.dummy
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401


def made(name: str, seed: int, classifies: bool) -> Any:
    """The baseline ``name``, unfitted."""
    return BASELINES.get(name).make(seed, classifies)


def settings(estimator: Any) -> str:
    """An estimator's settings as stable text: every plain parameter, nested ones flattened
    (a pipeline's steps are in them), functions by name rather than address, and the cores
    it may use left out (they change how fast, not what it learns)."""
    from sklearn.base import BaseEstimator

    plain = {
        key: value.__qualname__ if inspect.isfunction(value) else repr(value)
        for key, value in sorted(estimator.get_params(deep=True).items())
        if not key.endswith("n_jobs") and key != "steps" and not isinstance(value, BaseEstimator)
    }
    return repr(plain)


def fitted_file(folder: Path, key: str) -> Path:
    return folder / f"{key}.fit.npz"


def fit_outputs(
    arrays: Arrays,
    keys: dict[str, str],
    seed: int,
    classifies: bool,
    n_outputs: int,
    folder: Path,
    jobs: int,
    beside_training: bool = False,
) -> None:
    """Fit each baseline of ``keys`` (name → cache key) on the training arrays with ``jobs``
    cores, and keep its test outputs in ``folder``; ``beside_training`` says its seconds are
    those of a fit on the cores training left."""
    from threadpoolctl import threadpool_limits

    x_train, y_train, x_test, _ = arrays
    # Beside torch's OpenMP threads, BLAS's own spin for the same cores: one BLAS thread made
    # the digits' logistic regression 1.7 s → 0.1 s in the run's process. One everywhere, so
    # an output is the same sums wherever it is fit.
    with threadpool_limits(1, user_api="blas"):
        for name, key in keys.items():
            estimator = made(name, seed, classifies)
            if estimator.get_params(deep=False).get("n_jobs") is not None:
                estimator.set_params(n_jobs=jobs)  # how fast, not what it learns
            start = time.perf_counter()
            estimator.fit(x_train, y_train)
            seconds = time.perf_counter() - start
            kind, values = outputs(estimator, x_test, n_outputs)
            path = fitted_file(folder, key)
            partial = path.with_suffix(f".{os.getpid()}.npz")
            np.savez(
                partial, outputs=values, kind=kind, seconds=seconds,
                size=len(pickle.dumps(estimator)), beside_training=beside_training,
            )  # fmt: skip
            partial.replace(path)


def outputs(estimator: Any, x: np.ndarray, n_outputs: int) -> tuple[str, np.ndarray]:
    """What the task's metric scores: ("scores", higher = more anomalous) for an outlier
    detector, as the autoencoder's; ("probabilities", one column per class, 0 for a class
    missing from training) for a classifier; ("values", predictions) otherwise."""
    from sklearn.base import is_classifier, is_outlier_detector

    if is_outlier_detector(estimator):
        return "scores", -estimator.score_samples(x)
    if is_classifier(estimator):
        proba = np.zeros((len(x), n_outputs), dtype=np.float32)
        proba[:, estimator.classes_] = estimator.predict_proba(x)
        return "probabilities", proba
    return "values", np.asarray(estimator.predict(x), dtype=np.float32)
