"""Traditional machine learning on the very same split: the baselines of the leaderboard.

Each baseline is a scikit-learn estimator trained on the run's own training split (the encoded
features: standardized table columns, flattened image pixels, the tokenizer's token ids) and
scored on its test split with the task's own metric code, so the rows compare directly with
the deep model. Each row also says how long it trained and how big it is; rows are cached by a
fingerprint of the split they were fit on.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier, is_outlier_detector
from sklearn.linear_model import RidgeClassifierCV

from deepworks.core.errors import ConfigError
from deepworks.core.registry import Registry
from deepworks.core.task import TASKS, Task, has_tag
from deepworks.data.datasets import first_rows
from deepworks.train.checkpoint import write_json

# Baselines train on at most this many examples (a stratified-enough random sample beyond).
MAX_TRAIN = 20_000


@dataclass
class Baseline:
    make: Callable[[int, str], Any]  # (seed, task) → an unfitted estimator
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]


BASELINES: Registry[Baseline] = Registry("baseline", ConfigError)
VECTORS = ("table", "image", "series")  # data a baseline can take as one flat vector


def _register(name: str, tasks: tuple[str, ...], modalities: tuple[str, ...], help: str):
    def decorator(make: Callable[[int, str], Any]) -> Callable[[int, str], Any]:
        BASELINES.register(name, help=help)(Baseline(make, tasks, modalities))
        return make

    return decorator


@_register(
    "trivial",
    ("classification", "regression"),
    (*VECTORS, "text", "audio"),
    "the majority class's frequencies / the training mean: what knowing nothing scores",
)
def _trivial(seed: int, task: str):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyClassifier(strategy="prior") if has_tag(task, "classifies") else DummyRegressor()


ALWAYS = "trivial"  # on every leaderboard that can have it, whatever `evaluate.baselines` says


@_register("logistic-regression", ("classification",), VECTORS, "multinomial, L2")
def _logistic(seed: int, task: str):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


@_register("ridge", ("regression",), VECTORS, "linear regression, L2")
def _ridge(seed: int, task: str):
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0)


@_register("random-forest", ("classification", "regression"), VECTORS, "200 trees")
def _forest(seed: int, task: str):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if has_tag(task, "classifies") else RandomForestRegressor
    return cls(n_estimators=200, random_state=seed, n_jobs=torch.get_num_threads())


@_register(
    "hist-gradient-boosting", ("classification", "regression"), VECTORS, "scikit-learn's GBDT"
)
def _boosting(seed: int, task: str):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    classifies = has_tag(task, "classifies")
    cls = HistGradientBoostingClassifier if classifies else HistGradientBoostingRegressor
    return cls(random_state=seed)


@_register("tfidf-logistic-regression", ("classification",), ("text",), "TF-IDF of the tokens")
def _tfidf(seed: int, task: str):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    words = TfidfVectorizer(analyzer=token_ids, ngram_range=(1, 1), sublinear_tf=True)
    return make_pipeline(words, LogisticRegression(max_iter=1000, C=4.0))


def token_ids(row: np.ndarray) -> list[int]:
    """A row of token ids → its tokens, padding dropped (the TF-IDF analyzer)."""
    return [int(i) for i in row if i != 0]


@_register(
    "rocket",
    ("classification",),
    ("series",),
    "ROCKET (pyts): 2,000 random convolution kernels + ridge; the series classifiers' standard",
)
def _rocket(seed: int, task: str):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from deepworks.core.errors import require

    rocket = require("pyts.transformation", "timeseries", "the rocket baseline").ROCKET
    return make_pipeline(
        FunctionTransformer(_univariate),
        rocket(n_kernels=2000, random_state=seed),
        StandardScaler(),
        RocketRidge(alphas=np.logspace(-3, 3, 10)),
    )


class RocketRidge(RidgeClassifierCV):
    """ROCKET's ridge, with its decision scores as probabilities (a softmax) for the metrics
    that rank, such as ROC AUC."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax(self.decision_function(x))


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = np.stack([-scores, scores], 1) if scores.ndim == 1 else scores
    exp = np.exp(scores - scores.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


def _univariate(x: np.ndarray) -> np.ndarray:
    """(N, steps, 1) series → (N, steps), what pyts takes; more features than one: refused."""
    if x.ndim == 3 and x.shape[2] != 1:
        raise ConfigError("the rocket baseline takes univariate series; drop it for these")
    return x.reshape(len(x), -1)


OPT_IN = {"rocket"}  # worth asking for, not paying for unasked (pyts compiles for ~30 s)


@_register("isolation-forest", ("anomaly",), VECTORS, "trained on normal data, like the model")
def _isolation(seed: int, task: str):
    from sklearn.ensemble import IsolationForest

    return IsolationForest(n_estimators=200, random_state=seed)


def fitting(task: str, modality: str, chosen: bool | list[str]) -> list[str]:
    """The baselines to run: all that fit the task and data, or the chosen ones."""
    fits = [e.name for e in BASELINES if task in e.obj.tasks and modality in e.obj.modalities]
    always = [ALWAYS] if ALWAYS in fits else []
    if chosen is True:
        return always + [n for n in fits if n not in always and n not in OPT_IN]
    if chosen is False:
        return always
    own = TASKS.get(task).own_baselines  # the task scores these itself (pocketsphinx ...)
    for name in (n for n in chosen if n not in own):
        BASELINES.get(name)  # unknown names: the registry's error, with suggestions
        if name not in fits:
            raise ConfigError(
                f"evaluate.baselines: `{name}` does not do {task} on {modality} data; "
                f"ones that do: {', '.join([*fits, *own]) or 'none'}"
            )
    return always + [n for n in chosen if n not in always and n not in own]


def _fingerprint(*parts: Any) -> str:
    """What makes a baseline's row: the split's arrays, the task, metric, seed, scikit-learn."""
    import sklearn

    digest = hashlib.sha256(sklearn.__version__.encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(str(part).encode())
    return digest.hexdigest()


def _settings(estimator: Any) -> str:
    """An estimator's settings as stable text: every plain parameter, nested ones flattened
    (a pipeline's steps are in them), functions by name rather than address, and the cores
    it may use left out (they change how fast, not what it learns)."""
    plain = {
        key: value.__qualname__ if inspect.isfunction(value) else repr(value)
        for key, value in sorted(estimator.get_params(deep=True).items())
        if not key.endswith("n_jobs") and key != "steps" and not isinstance(value, BaseEstimator)
    }
    return repr(plain)


def _read_cached(cache: Path | None, key: str) -> dict[str, Any] | None:
    path = cache / f"{key}.json" if cache is not None else None
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a damaged entry: fit again, and write it anew
        return None


def ranked_by(task: Task, main: str | None) -> tuple[str, str]:
    """The metric the board ranks by (`evaluate.main_metric`, or the task's own when a
    baseline cannot be scored on it), and the note that says so."""
    note = ""
    if main and main not in task.metric_factories():
        note = f"ranked by {task.main_metric}: baselines cannot be scored on {main}"
    return (task.main_metric if not main or note else main), note


def baseline_rows(
    task: Task,
    bundle: Any,
    chosen: bool | list[str],
    seed: int,
    main: str | None,
    cache: Path | None,
    jobs: int | None = None,
) -> list[dict[str, Any]]:
    """Each chosen baseline fit on the training split and scored on test (or its cached row);
    ``jobs`` caps the cores a baseline may use (default: torch's threads)."""
    main = ranked_by(task, main)[0]
    rows: list[dict[str, Any]] = []
    names = fitting(task.name, bundle.schema.modality, chosen)
    if names:
        x_train, y_train = _arrays(bundle.train, seed, MAX_TRAIN)
        x_test, y_test = _arrays(bundle.test, seed)
        split = _fingerprint(x_train, y_train, x_test, y_test, task.name, main, seed)
        for name in names:
            estimator = BASELINES.get(name).make(seed, task.name)
            key = hashlib.sha256(f"{split}|{name}|{_settings(estimator)}".encode()).hexdigest()
            if jobs is not None and estimator.get_params().get("n_jobs") is not None:
                estimator.set_params(n_jobs=jobs)  # how fast, not what it learns
            key = key[:24]
            cached = _read_cached(cache, key)
            if cached is not None:  # the same split, baseline and seed: its row as it was
                rows.append(cached | {"cached": True})
                continue
            start = time.perf_counter()
            estimator.fit(x_train, y_train)
            seconds = time.perf_counter() - start
            row = {
                "model": name,
                main: _score(task, estimator, x_test, y_test, main),
                "train_seconds": round(seconds, 2),
                "size_bytes": len(pickle.dumps(estimator)),
            }
            rows.append(row)
            if cache is not None:
                write_json(cache / f"{key}.json", row)
    return rows


def _arrays(data: Any, seed: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    x, y = first_rows(data)
    if limit is not None and len(x) > limit:
        pick = torch.from_numpy(np.random.default_rng(seed).permutation(len(x))[:limit])
        x, y = x[pick], y[pick]
    x = x.numpy()
    return (x if x.dtype == np.int64 else x.reshape(len(x), -1)), y.numpy()


def _score(task: Task, estimator: Any, x: np.ndarray, y: np.ndarray, main: str) -> float:
    """The task's own metric on the estimator's test predictions."""
    if is_outlier_detector(estimator):  # higher = more anomalous, as the autoencoder's score
        from sklearn.metrics import average_precision_score, roc_auc_score

        score = -estimator.score_samples(x)
        return float(
            average_precision_score(y, score) if main == "pr_auc" else roc_auc_score(y, score)
        )
    if is_classifier(estimator):  # a class missing from training gets probability 0
        proba = np.zeros((len(x), task.schema.n_outputs), dtype=np.float32)
        proba[:, estimator.classes_] = estimator.predict_proba(x)
        preds = torch.from_numpy(proba)
    else:
        preds = torch.as_tensor(estimator.predict(x), dtype=torch.float32)
    metric = task.metrics({main})
    metric.update(preds, torch.as_tensor(y))
    return float(metric.compute()[main])
