"""The baselines: scikit-learn estimators registered by name, each with the tasks and kinds of
data it fits (``BASELINES``). Made unfitted from a seed; the run picks, fits and scores them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import RidgeClassifierCV

from deepworks.core.errors import ConfigError, require
from deepworks.core.registry import Registry


@dataclass
class Baseline:
    make: Callable[[int, bool], Any]  # (seed, classifies) → an unfitted estimator
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    asked_on: tuple[str, ...] = ()  # where it runs only when named: worth asking for there,
    # not paying for unasked
    in_run_process: bool = False  # fit by the run itself, not a helper: its library compiles
    # on import in every process, and the run has imported it to key the cache


BASELINES: Registry[Baseline] = Registry("baseline", ConfigError)
VECTORS = ("table", "image", "series")  # data a baseline can take as one flat vector


def _register(
    name: str,
    tasks: tuple[str, ...],
    modalities: tuple[str, ...],
    help: str,
    asked_on: tuple[str, ...] = (),
    in_run_process: bool = False,
):
    def decorator(make: Callable[[int, bool], Any]) -> Callable[[int, bool], Any]:
        baseline = Baseline(make, tasks, modalities, asked_on, in_run_process)
        BASELINES.register(name, help=help)(baseline)
        return make

    return decorator


@_register(
    "trivial",
    ("classification", "regression"),
    (*VECTORS, "text", "audio"),
    "the majority class's frequencies / the training mean: what knowing nothing scores",
)
def _trivial(seed: int, classifies: bool):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyClassifier(strategy="prior") if classifies else DummyRegressor()


ALWAYS = "trivial"  # on every leaderboard that can have it, whatever `evaluate.baselines` says


@_register("logistic-regression", ("classification",), VECTORS, "multinomial, L2")
def _logistic(seed: int, classifies: bool):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


@_register("ridge", ("regression",), VECTORS, "linear regression, L2")
def _ridge(seed: int, classifies: bool):
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0)


@_register("random-forest", ("classification", "regression"), VECTORS, "200 trees")
def _forest(seed: int, classifies: bool):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if classifies else RandomForestRegressor
    return cls(n_estimators=200, random_state=seed, n_jobs=1)  # its cores: set by the fit


# On raw pixels boosting costs tens of times the forest for its score (mnist-5k: 67 s for
# 0.944 test accuracy, the forest 2 s for 0.943): images get it when they name it.
@_register(
    "hist-gradient-boosting",
    ("classification", "regression"),
    VECTORS,
    "scikit-learn's GBDT (images: when named)",
    asked_on=("image",),
)
def _boosting(seed: int, classifies: bool):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if classifies else HistGradientBoostingRegressor
    return cls(random_state=seed)


@_register("tfidf-logistic-regression", ("classification",), ("text",), "TF-IDF of the tokens")
def _tfidf(seed: int, classifies: bool):
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
    in_run_process=True,
)
def _rocket(seed: int, classifies: bool):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

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
def _isolation(seed: int, classifies: bool):
    from sklearn.ensemble import IsolationForest

    return IsolationForest(n_estimators=200, random_state=seed)
