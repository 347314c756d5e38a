"""DeepClassifier / DeepRegressor follow scikit-learn's estimator contract."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepworks import DeepClassifier, DeepRegressor
from deepworks.core.errors import DataError


def test_cross_val_score_on_a_pipeline():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), DeepClassifier(epochs=20, lr=0.01, threads=1))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85  # majority class: 0.33


def test_classifier_keeps_original_labels_and_probabilities():
    X, y = load_iris(return_X_y=True)
    names = np.asarray(["setosa", "versicolor", "virginica"])[y]
    clf = DeepClassifier(epochs=10, lr=0.01).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X[:10])) <= set(clf.classes_)
    assert np.allclose(clf.predict_proba(X).sum(1), 1, atol=1e-5)
    assert clf.n_features_in_ == 4 and clf.score(X, names) > 0.8


def test_clone_and_params_round_trip():
    clf = DeepClassifier(model="mlp", model_params={"hidden": [8]}, epochs=2)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "model_")


def test_regressor_beats_the_mean():
    X, y = load_diabetes(return_X_y=True)
    reg = DeepRegressor(epochs=40, lr=0.003, model_params={"hidden": [32]})
    scores = cross_val_score(reg, X, y, cv=3, scoring="r2")
    assert scores.mean() > 0.2  # predicting the mean scores ~0


def test_images_as_a_4d_array_with_the_cnn():
    digits = load_digits()
    X = (digits.images / 16.0)[:, None][:600]
    y = digits.target[:600]
    clf = DeepClassifier(model="cnn", epochs=5, lr=0.003).fit(X[:500], y[:500])
    assert clf.score(X[500:], y[500:]) > 0.8


def test_wrong_feature_count_is_a_clear_error():
    X, y = load_iris(return_X_y=True)
    clf = DeepClassifier(epochs=1).fit(X, y)
    with pytest.raises(DataError, match="fit on 4 features"):
        clf.predict(X[:, :3])


@parametrize_with_checks(
    [DeepClassifier(epochs=5, lr=0.01), DeepRegressor(epochs=5, lr=0.01)],
    expected_failed_checks=lambda estimator: {},
)
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's own estimator contract: fit/predict shapes, input validation (NaN, inf,
    wrong widths, 1-D X, string y), cloning, pickling, n_features_in_, ..."""
    check(estimator)
