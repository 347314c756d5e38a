"""Forecasting: time-ordered splits, train-only scaling, the seasonal-naive yardstick, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import deepworks
from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.tasks import load_data
from tests.conftest import EXAMPLES, assert_user_error


def _seasonal_csv(path, n=200, season=12, trend=0.05, gap_at=None):
    t = np.arange(n)
    value = 10 + trend * t + 2 * np.sin(2 * np.pi * t / season)
    value += np.random.default_rng(0).normal(0, 0.1, n)
    frame = pd.DataFrame({"t": t, "value": value, "other": np.cos(t / 5)})
    if gap_at is not None:
        frame.loc[gap_at, "value"] = np.nan
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)  # order only via `t`
    return path


def _cfg(path, **series):
    return DataConfig(
        dataset="csv",
        path=path,
        target="value",
        series={"window": 12, "horizon": 3, "season": 12, "time": "t", **series},
    )


def test_splits_follow_time_and_scaling_uses_the_training_span_only(tmp_path):
    path = _seasonal_csv(tmp_path / "s.csv")
    bundle = load_data(_cfg(path), task="forecast")
    # Every test target comes after every training target (the series trends upwards).
    assert bundle.test.y.min() > bundle.train.y[:, 0].min()
    assert bundle.train.y.max() < bundle.test.y.max()
    n_train_span = 200 - round(200 * 0.15) * 2
    values = pd.read_csv(path).sort_values("t")["value"].to_numpy()
    assert bundle.schema.target_scale[0] == pytest.approx(values[:n_train_span].mean())
    assert bundle.schema.input_shape == (12, 1) and bundle.schema.n_outputs == 3


def test_multivariate_input(tmp_path):
    path = _seasonal_csv(tmp_path / "s.csv")
    bundle = load_data(_cfg(path, features=["other"]), task="forecast")
    assert bundle.schema.input_shape == (12, 2)


@pytest.mark.parametrize("model", ["mlp", "gru", "transformer"])
def test_models_beat_seasonal_naive_on_a_trending_series(model, tmp_path):
    path = _seasonal_csv(tmp_path / "s.csv")
    raw = {
        "task": "forecast",
        "data": _cfg(path).model_dump(mode="json"),
        "model": {"name": model, **({"d_model": 32} if model == "transformer" else {})},
        "train": {"epochs": 30, "optimizer": {"name": "adam", "lr": 0.003}},
    }
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    test = run.metrics["test"]
    assert test["mase"] < test["seasonal_naive_mase"]
    assert (run.path / "forecast.png").is_file()
    forecast = run.predict(path)
    assert list(forecast.columns) == ["step", "time", "forecast"] and len(forecast) == 3
    assert list(forecast["time"]) == [200, 201, 202]  # the times forecast, after `t`'s last


def test_seasonal_naive_repeats_the_value_one_season_back():
    from deepworks.core.schema import Schema
    from deepworks.tasks import get_task

    schema = Schema(
        "series",
        "forecast",
        (6, 1),
        "v",
        encoder={"season": 4, "mase_scale": 1.0},
        horizon=5,
        target_scale=(0.0, 1.0),
    )
    x = torch.arange(6, dtype=torch.float32).view(1, 6, 1)  # 0 1 2 3 4 5
    naive = get_task(schema).seasonal_naive(x)
    assert naive.tolist() == [[2.0, 3.0, 4.0, 5.0, 2.0]]


@pytest.mark.slow
def test_co2_forecaster_beats_seasonal_naive(tmp_path):
    run = deepworks.run(EXAMPLES / "co2.yaml", runs_dir=tmp_path, progress=False)
    assert run.metrics["test"]["mase"] < run.metrics["test"]["seasonal_naive_mase"]


def test_bad_series_inputs(cli, tmp_path):
    def config(path, **series):
        raw = {
            "task": "forecast",
            "data": _cfg(path, **series).model_dump(mode="json"),
            "model": {"name": "mlp"},
            "train": {"epochs": 1},
        }
        cfg = tmp_path / "c.yaml"
        cfg.write_text(yaml.safe_dump(raw))
        return cfg

    runs = ["--runs-dir", tmp_path / "runs", "-q"]
    gappy = _seasonal_csv(tmp_path / "gap.csv", gap_at=50)
    assert_user_error(cli("run", config(gappy), *runs), "missing value", "Fill the gaps")
    short = _seasonal_csv(tmp_path / "short.csv", n=40)
    assert_user_error(cli("run", config(short, horizon=30), *runs), "horizon 30")
    ok = _seasonal_csv(tmp_path / "ok.csv")
    assert_user_error(cli("run", config(ok, window=6), *runs), "window ≥ 12")
    with pytest.raises(DataError, match="no column `valu`"):
        load_data(
            DataConfig(
                dataset="csv", path=ok, target="value", series={"window": 12, "features": ["valu"]}
            ),
            task="forecast",
        )


def test_a_forecast_says_the_dates_it_is_for():
    from deepworks.modalities.series.encoder import SeriesEncoder

    months = pd.DataFrame({"month": pd.date_range("2020-01-01", periods=24, freq="MS")})
    months["month"] = months["month"].dt.strftime("%Y-%m-%d")
    encoder = SeriesEncoder(["value"], 12, 12, time="month")
    assert encoder.future_times(months.sample(frac=1, random_state=0), 3) == [
        "2022-01-01",
        "2022-02-01",
        "2022-03-01",
    ]
    assert SeriesEncoder(["value"], 12, 12).future_times(months, 3) is None  # no time column
