"""The leaderboard: traditional ML on the same split, scored by the task's own metric code."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

import deepworks
from deepworks.analyses.leaderboard import fitting
from deepworks.config import DataConfig
from deepworks.core.errors import ConfigError
from deepworks.tasks import load_data
from tests.conftest import assert_user_error, tiny_config


def _board(run):
    return json.loads((run.path / "leaderboard.json").read_text())


def test_a_weak_deep_model_is_told_plainly_which_baseline_beats_it(tmp_path, cli):
    raw = tiny_config("breast-cancer", epochs=1)
    raw["train"]["optimizer"]["lr"] = 1e-5  # barely moves from its random start
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    board = _board(run)
    names = [r["model"] for r in board["rows"]]
    assert set(names) == {
        "mlp (deep)", "logistic-regression", "random-forest", "hist-gradient-boosting"
    }  # fmt: skip
    scores = [r["accuracy"] for r in board["rows"]]
    assert scores == sorted(scores, reverse=True)  # best first
    best = board["rows"][0]
    assert best["model"] != "mlp (deep)" and best["accuracy"] > 0.9
    assert board["verdict"].startswith(f"{best['model']} beats the deep model on test accuracy")
    assert all(r["train_seconds"] >= 0 and r["size_bytes"] > 0 for r in board["rows"])
    assert list(run.leaderboard["model"]) == names


def test_a_baseline_is_scored_like_scikit_learn_would(tmp_path):
    raw = tiny_config("wine", epochs=1) | {"evaluate": {"baselines": ["logistic-regression"]}}
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    bundle = load_data(DataConfig(dataset="wine"))  # the same seeded split
    expected = accuracy_score(
        bundle.test.y.numpy(),
        LogisticRegression(max_iter=1000).fit(bundle.train.x.numpy(), bundle.train.y.numpy())
        .predict(bundle.test.x.numpy()),
    )  # fmt: skip
    row = next(r for r in _board(run)["rows"] if r["model"] == "logistic-regression")
    assert row["accuracy"] == pytest.approx(expected)


def test_baselines_can_be_turned_off_and_bad_names_fail_before_training(tmp_path, cli):
    run = deepworks.run(
        tiny_config(epochs=1) | {"evaluate": {"baselines": False}}, runs_dir=tmp_path
    )
    assert [r["model"] for r in _board(run)["rows"]] == ["mlp (deep)"]
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {dataset: iris}\nmodel: {name: mlp}\nevaluate: {baselines: [random-forrest]}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "random-forrest", "random-forest")
    assert not list((tmp_path / "runs").glob("*/metrics.jsonl"))  # failed before training
    with pytest.raises(ConfigError, match="does not do regression"):
        fitting("regression", "table", ["logistic-regression"])


def test_every_task_gets_the_baselines_that_fit_it():
    assert fitting("classification", "text", True) == ["tfidf-logistic-regression"]
    assert fitting("anomaly", "image", True) == ["isolation-forest"]
    assert set(fitting("regression", "table", True)) == {
        "ridge", "random-forest", "hist-gradient-boosting"
    }  # fmt: skip
    assert fitting("forecast", "series", True) == []  # the task scores seasonal naive itself


def test_forecast_and_anomaly_leaderboards(tmp_path):
    forecast = {
        "data": {"dataset": "co2", "series": {"window": 24, "horizon": 6}},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 2},
    }
    rows = _board(deepworks.run(forecast, runs_dir=tmp_path, progress=False))["rows"]
    assert {r["model"] for r in rows} == {"mlp (deep)", "seasonal-naive", "ets"}
    ets = next(r for r in rows if r["model"] == "ets")
    naive = next(r for r in rows if r["model"] == "seasonal-naive")
    assert ets["mase"] < naive["mase"] and ets["train_seconds"] > 0  # co2 trends: ETS follows
    anomaly = {
        "task": "anomaly",
        "data": {"dataset": "digits", "anomalous": ["7"]},
        "model": {"name": "autoencoder", "hidden": [32], "latent": 4},
        "train": {"epochs": 2},
    }
    board = _board(deepworks.run(anomaly, runs_dir=tmp_path, progress=False))
    forest = next(r for r in board["rows"] if r["model"] == "isolation-forest")
    assert board["metric"] == "pr_auc" and 0.1 < forest["pr_auc"] <= 1


def test_cross_validation_reports_every_fold_and_leaves_test_alone(tmp_path, cli):
    raw = tiny_config("iris", epochs=20) | {"evaluate": {"cv": 3, "baselines": False}}
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    cv = json.loads((run.path / "cv.json").read_text())
    assert cv["folds"] == 3 and len(cv["scores"]) == 3 and cv["metric"] == "accuracy"
    assert cv["mean"] == pytest.approx(sum(cv["scores"]) / 3)
    assert cv["mean"] > 0.6 and cv["std"] >= 0  # well above the 1/3 of guessing
    config = tmp_path / "cv.yaml"
    config.write_text(
        "task: autoencoder\ndata: {dataset: iris}\nmodel: {name: autoencoder}\nevaluate: {cv: 3}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "evaluate.cv applies to classification and regression")
    assert not list((tmp_path / "runs").glob("*/metrics.jsonl"))  # failed before training


def test_ets_rolls_over_the_same_origins_as_the_model(tmp_path):
    """Each ETS forecast is the fitted model run up to that window's origin, no refit."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    from deepworks.config import DataConfig
    from deepworks.tasks import load_data
    from deepworks.tasks.ets import ets_forecasts

    cfg = DataConfig(dataset="co2", series={"window": 24, "horizon": 6})
    bundle = load_data(cfg, "forecast")
    span = bundle.span
    forecasts, _ = ets_forecasts(span, 12, 6)
    assert forecasts["test"].shape == tuple(bundle.test.y.shape)
    origin = span.origins["test"][5]
    assert np.allclose(span.values[origin : origin + 6], bundle.test.y[5].numpy())
    fitted = ExponentialSmoothing(span.values[: span.train_end], trend=True, seasonal=12).fit(
        disp=False
    )
    by_hand = fitted.apply(span.values[:origin]).forecast(6)
    assert np.allclose(forecasts["test"][5], by_hand)
