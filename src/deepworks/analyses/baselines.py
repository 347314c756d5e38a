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
import os
import pickle
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier, is_outlier_detector
from sklearn.linear_model import RidgeClassifierCV

from deepworks.core.errors import ConfigError
from deepworks.core.registry import Registry
from deepworks.core.task import TASKS, Task, get_task, has_tag
from deepworks.data.datasets import first_rows
from deepworks.train.checkpoint import write_json

# Baselines train on at most this many examples (a stratified-enough random sample beyond).
MAX_TRAIN = 20_000


@dataclass
class Baseline:
    make: Callable[[int, str], Any]  # (seed, task) → an unfitted estimator
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    asked_on: tuple[str, ...] = ()  # where it runs only when named: worth asking for there,
    # not paying for unasked


BASELINES: Registry[Baseline] = Registry("baseline", ConfigError)
VECTORS = ("table", "image", "series")  # data a baseline can take as one flat vector


def _register(
    name: str,
    tasks: tuple[str, ...],
    modalities: tuple[str, ...],
    help: str,
    asked_on: tuple[str, ...] = (),
):
    def decorator(make: Callable[[int, str], Any]) -> Callable[[int, str], Any]:
        BASELINES.register(name, help=help)(Baseline(make, tasks, modalities, asked_on))
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


# On raw pixels boosting costs tens of times the forest for its score (mnist-5k: 67 s for
# 0.944 test accuracy, the forest 2 s for 0.943): images get it when they name it.
@_register(
    "hist-gradient-boosting",
    ("classification", "regression"),
    VECTORS,
    "scikit-learn's GBDT (images: when named)",
    asked_on=("image",),
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
    asked_on=("series",),  # pyts compiles its kernels for ~30 s in every new process
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


@_register("isolation-forest", ("anomaly",), VECTORS, "trained on normal data, like the model")
def _isolation(seed: int, task: str):
    from sklearn.ensemble import IsolationForest

    return IsolationForest(n_estimators=200, random_state=seed)


def fitting(task: str, modality: str, chosen: bool | list[str]) -> list[str]:
    """The baselines to run: all that fit the task and data, or the chosen ones."""
    fits = [e.name for e in BASELINES if task in e.obj.tasks and modality in e.obj.modalities]
    always = [ALWAYS] if ALWAYS in fits else []
    if chosen is True:
        asked = [n for n in fits if modality in BASELINES.get(n).asked_on]
        return always + [n for n in fits if n not in always and n not in asked]
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


def _read_cached(cache: Path, key: str) -> dict[str, Any] | None:
    path = cache / f"{key}.json"
    if not path.is_file():
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


@dataclass
class Plan:
    """The chosen baselines on one split: the arrays they train and score on, and each one's
    cache key (the split's fingerprint, its name and its settings). It pickles, so a helper
    process can fit them."""

    schema: Any
    main: str
    seed: int
    cache: Path
    keys: dict[str, str]  # name → cache key
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, y: train, test

    def cached(self) -> dict[str, dict[str, Any]]:
        """The rows the cache has, by baseline name."""
        rows = {name: _read_cached(self.cache, key) for name, key in self.keys.items()}
        return {name: row for name, row in rows.items() if row is not None}

    def unfitted(self) -> list[str]:
        cached = self.cached()
        return [name for name in self.keys if name not in cached]


def plan(
    task: Task, bundle: Any, chosen: bool | list[str], seed: int, main: str | None, cache: Path
) -> Plan:
    """What ``chosen`` asks of this split, keyed for the cache under ``cache``."""
    main = ranked_by(task, main)[0]
    names = fitting(task.name, bundle.schema.modality, chosen)
    arrays = (*_arrays(bundle.train, seed, MAX_TRAIN), *_arrays(bundle.test, seed)) if names else ()
    split = _fingerprint(*arrays, task.name, main, seed)
    keys = {}
    for name in names:
        settings = _settings(BASELINES.get(name).make(seed, task.name))
        keys[name] = hashlib.sha256(f"{split}|{name}|{settings}".encode()).hexdigest()[:24]
    return Plan(bundle.schema, main, seed, cache, keys, arrays)


def fit_into_cache(
    plan: Plan, names: list[str], jobs: int | None = None, nice: int | None = None
) -> dict[str, dict[str, Any]]:
    """Fit the planned baselines ``names`` (those the cache lacks) on the training split,
    score each on test, cache its row and return the rows by name; ``jobs`` caps the cores one
    may use (default: torch's threads). A process at a lower priority than ``nice`` (the
    run's) marks its rows `beside_training`: their seconds are those of a fit that took only
    what training left."""
    from threadpoolctl import threadpool_limits

    aside = nice is not None and os.nice(0) > nice
    # Beside torch's OpenMP threads, BLAS's own spin for the same cores: one BLAS thread made
    # the digits' logistic regression 1.7 s → 0.1 s in the run's process. One everywhere, so
    # a row is the same sums wherever it is fit.
    with threadpool_limits(1, user_api="blas"):
        return {name: _fit_row(plan, name, jobs, aside) for name in names}


def _fit_row(plan: Plan, name: str, jobs: int | None, aside: bool) -> dict[str, Any]:
    x_train, y_train, x_test, y_test = plan.arrays
    estimator = BASELINES.get(name).make(plan.seed, plan.schema.task)
    if jobs is not None and estimator.get_params().get("n_jobs") is not None:
        estimator.set_params(n_jobs=jobs)  # how fast, not what it learns
    start = time.perf_counter()
    estimator.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    row = {
        "model": name,
        plan.main: _score(get_task(plan.schema), estimator, x_test, y_test, plan.main),
        "train_seconds": round(seconds, 2),
        "size_bytes": len(pickle.dumps(estimator)),
    } | ({"beside_training": True} if aside else {})
    write_json(plan.cache / f"{plan.keys[name]}.json", row)
    return row


def baseline_rows(plan: Plan, fitted: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Each planned baseline's row, fit now where the cache lacks it; a row from an earlier
    run (not one of ``fitted``, fit by this run elsewhere) says it was ``cached``."""
    rows = plan.cached()
    missing = [name for name in plan.keys if name not in rows]
    rows |= fit_into_cache(plan, missing)
    fresh = {*missing, *fitted}
    return [rows[name] | ({} if name in fresh else {"cached": True}) for name in plan.keys]


def warm() -> None:
    """What a helper fitting baselines loads before it is given them."""
    import sklearn.dummy
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401


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
