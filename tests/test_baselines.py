"""The leaderboard: traditional ML on the same split, scored by the task's own metric code."""

import json
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

import deepworks
from deepworks.analyses.baselines import fitting
from deepworks.config import DataConfig
from deepworks.core.errors import ConfigError
from deepworks.core.helpers import Helpers
from deepworks.tasks import load_data
from deepworks.traditional import WARM
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
        "mlp (deep)", "trivial", "logistic-regression", "random-forest", "hist-gradient-boosting"
    }  # fmt: skip
    scores = [r["accuracy"] for r in board["rows"]]
    assert scores == sorted(scores, reverse=True)  # best first
    best = board["rows"][0]
    assert best["model"] != "mlp (deep)" and best["accuracy"] > 0.9
    trivial = next(r for r in board["rows"] if r["model"] == "trivial")
    deep = next(r for r in board["rows"] if r["model"] == "mlp (deep)")
    plainly = (
        "the deep model does no better than the trivial baseline"
        if trivial["accuracy"] >= deep["accuracy"]
        else f"{best['model']} beats or matches the deep model on test accuracy"
    )
    assert board["verdict"].startswith(plainly)
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
    assert {r["model"] for r in _board(run)["rows"]} == {"mlp (deep)", "trivial"}  # always there
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
    assert fitting("classification", "text", True) == ["trivial", "tfidf-logistic-regression"]
    assert fitting("anomaly", "image", True) == ["isolation-forest"]
    assert set(fitting("regression", "table", True)) == {
        "trivial", "ridge", "random-forest", "hist-gradient-boosting"
    }  # fmt: skip
    assert fitting("regression", "table", ["ridge"]) == ["trivial", "ridge"]
    # boosting on raw pixels and ROCKET's compiling cost more than they tell unasked
    assert fitting("classification", "image", True) == [
        "trivial", "logistic-regression", "random-forest"
    ]  # fmt: skip
    assert "hist-gradient-boosting" in fitting(
        "classification", "image", ["hist-gradient-boosting"]
    )
    assert "rocket" not in fitting("classification", "series", True)
    assert fitting("forecast", "series", True) == []  # the task scores seasonal naive itself


def test_forecast_and_anomaly_leaderboards(tmp_path):
    forecast = {
        "data": {"dataset": "co2", "series": {"window": 24, "horizon": 6}},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 2},
    }
    rows = _board(deepworks.run(forecast, runs_dir=tmp_path, progress=False))["rows"]
    ets = next(r for r in rows if r["model"].startswith("ets"))
    assert {r["model"] for r in rows} == {"mlp (deep)", "seasonal-naive", ets["model"]}
    assert ets["model"] == "ets (trend add, season mul)"  # chosen by AIC, named
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


def test_a_model_that_only_learned_the_majority_class_is_told_so(tmp_path):
    """3 % positives and features with no signal: accuracy looks high, and the verdict says
    the deep model does no better than always answering the majority class; ranked by the
    main metric the config names."""
    rng = np.random.default_rng(0)
    n = 600
    frame = {"a": rng.normal(size=n), "b": rng.normal(size=n)}
    frame["default"] = np.where(np.arange(n) % 33 == 0, "yes", "no")
    import pandas as pd

    pd.DataFrame(frame).to_csv(tmp_path / "credit.csv", index=False)
    raw = {
        "data": {"dataset": "csv", "path": str(tmp_path / "credit.csv"), "target": "default"},
        "model": {"name": "mlp", "hidden": [8]},
        "train": {"epochs": 3},
        "evaluate": {"baselines": False, "explain": 0},
    }
    board = _board(deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False))
    assert board["metric"] == "accuracy" and board["verdict"].startswith(
        "the deep model does no better than the trivial baseline"
    )
    raw["evaluate"]["main_metric"] = "balanced_accuracy"
    board = _board(deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False))
    assert board["metric"] == "balanced_accuracy"
    trivial = next(r for r in board["rows"] if r["model"] == "trivial")
    assert trivial["balanced_accuracy"] == pytest.approx(0.5)


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


def _series(name: str):
    from deepworks.config import DataConfig
    from deepworks.tasks import load_data

    bundle = load_data(DataConfig(dataset=name, series={"window": 24, "horizon": 6}), "forecast")
    return bundle, np.asarray(bundle.span.values, dtype=np.float64)


def _run_to(fit, spec, values: np.ndarray, season: int, origins: list[int]) -> np.ndarray:
    """Rolling by its definition: the fixed model run over the series up to each origin, then
    statsmodels' own forecast."""
    from deepworks.tasks.ets import run_fixed

    return np.stack([run_fixed(fit, spec, values[:t], season).forecast(6) for t in origins])


def test_ets_rolled_from_the_training_end_is_the_fit_itself():
    """Rolling runs the fitted model (fixed parameters and initial states) over the series up
    to an origin: at the end of the training span that is exactly the fit's own forecast, and
    every window's target starts at its origin."""
    from deepworks.tasks.ets import ets_forecasts, fit_ets, rolled, run_fixed

    bundle, values = _series("co2")
    span = bundle.span
    fit, spec, choice = fit_ets(values[: span.train_end], 12)
    assert choice.converged and choice.seasonal == "mul"  # CO2's season grows with its level
    from_train_end = rolled(run_fixed(fit, spec, values, 12), 6, [span.train_end])[0]
    assert np.allclose(from_train_end, fit.forecast(6), rtol=1e-6)
    forecasts, _, _ = ets_forecasts(span, 12, 6)
    assert forecasts["test"].shape == tuple(bundle.test.y.shape[:2])
    origin = span.origins["test"][5]
    assert np.allclose(values[origin : origin + 6], bundle.test.y[5].numpy().ravel())


@pytest.mark.parametrize("name, season", [("co2", 12), ("sunspots", 11)])
def test_ets_is_as_good_as_holt_winters_fit_by_hand(name, season):
    """The ETS row may not flatter the deep model: on the same test windows it is at least as
    good as a forecaster's standard Holt-Winters (additive trend; multiplicative season where
    the series is positive, else additive) fit once on the training span."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from deepworks.tasks.ets import ets_forecasts, rolled, run_fixed

    bundle, values = _series(name)
    span = bundle.span
    train = values[: span.train_end]
    spec = {"trend": "add", "damped_trend": False}
    spec["seasonal"] = "mul" if (train > 0).all() else "add"
    fit = ExponentialSmoothing(train, seasonal_periods=season, **spec).fit()
    by_hand = _run_to(fit, spec, values, season, span.origins["test"])
    # one run over the whole series forecasts from each origin what a run up to it does
    whole = run_fixed(fit, spec, values, season)
    assert np.allclose(rolled(whole, 6, span.origins["test"]), by_hand)
    ours = ets_forecasts(span, season, 6)[0]["test"]
    target = bundle.test.y.numpy().reshape(ours.shape)
    assert np.abs(ours - target).mean() <= 1.02 * np.abs(by_hand - target).mean()


def test_a_second_run_on_the_same_split_reuses_its_baselines_and_a_new_split_does_not(
    tmp_path, cli
):
    """Baselines are cached by a fingerprint of their split: a second run with another network
    on the same data fits none again and shows the same rows; another seed (another split)
    fits them anew."""
    raw = tiny_config("wine", epochs=1) | {"evaluate": {"baselines": ["random-forest"]}}
    first = _board(deepworks.run(raw, runs_dir=tmp_path, progress=False))
    raw["model"]["hidden"] = [8]  # another network, the same split
    second = _board(deepworks.run(raw, runs_dir=tmp_path, progress=False))
    third = _board(deepworks.run(raw | {"seed": 1}, runs_dir=tmp_path, progress=False))
    fitted = {n: {r["model"]: "cached" not in r for r in b["rows"]} for n, b in
              (("first", first), ("second", second), ("third", third))}  # fmt: skip
    baselines = {"trivial": True, "random-forest": True}
    assert fitted["first"] == fitted["third"] == {"mlp (deep)": True} | baselines
    assert fitted["second"] == {"mlp (deep)": True, "trivial": False, "random-forest": False}
    rows = {r["model"]: r for r in first["rows"]}
    for row in second["rows"]:
        assert row["accuracy"] == rows[row["model"]]["accuracy"] or row["model"] == "mlp (deep)"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".cache"]
    listing = cli("runs", "--runs-dir", tmp_path).out
    assert listing.count("wine-mlp") == 3 and ".cache" not in listing  # the cache is no run


class _Patient(Helpers):
    """A helper waited for as if training had lasted until it was warm."""

    def ready(self) -> bool:
        while not super().ready():
            time.sleep(0.05)
        return True


def _baselines_helper(monkeypatch, pool: Helpers | None) -> None:
    """The run's baselines go to ``pool`` (None: no helper, as on a busy machine)."""
    from deepworks.core import helpers

    real = helpers.shared
    monkeypatch.setattr(
        helpers, "shared", lambda warm, count=2: pool if warm == WARM else real(warm, count)
    )


@pytest.mark.parametrize("machine", ["a core spare", "no core spare", "busy", "helper warming"])
def test_baselines_are_fit_by_a_helper_and_score_the_same(tmp_path, monkeypatch, machine):
    """A helper process fits the baselines: while the network trains where training leaves a
    core spare (its rows say so), else once training ends, while the analyses before the
    leaderboard run; none is fit in this process. Without a helper (a busy machine), or when
    training ends before the helper has even warmed, this process fits them. The rows are the
    same either way."""
    from sklearn.ensemble import RandomForestClassifier

    from deepworks.core import cpus

    here = []
    real_fit = RandomForestClassifier.fit

    def counting(self, *args, **kwargs):
        here.append(1)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(RandomForestClassifier, "fit", counting)
    monkeypatch.setattr(cpus, "available_cpus", lambda: 2)
    # the tests train on one thread: two idle CPUs leave one spare
    monkeypatch.setattr(cpus, "idle_cpus", lambda: 2.0 if machine == "a core spare" else 1.0)
    warm = "signal:pause" if machine == "helper warming" else WARM  # warming until killed
    kind = {"busy": None, "helper warming": Helpers}.get(machine, _Patient)
    pool = kind(1, warm) if kind else None
    _baselines_helper(monkeypatch, pool)
    if isinstance(pool, _Patient):
        pool.ready()  # started, and warm
    monkeypatch.chdir(tmp_path)  # after the helper started: a relative path is this process's
    raw = tiny_config("wine", epochs=2) | {"evaluate": {"explain": 0}}
    try:
        board = _board(deepworks.run(raw, runs_dir="aside", progress=False))
    finally:
        if pool is not None:
            pool.close()
    assert len(here) == (machine in ("busy", "helper warming"))
    assert not any(row.get("cached") for row in board["rows"])
    beside = {r["model"]: r.get("beside_training", False) for r in board["rows"]}
    assert beside == {m: machine == "a core spare" and m != "mlp (deep)" for m in beside}
    if machine == "helper warming":  # stopped, not left running
        assert [p.poll() for p in pool._processes] == [-9]
    _baselines_helper(monkeypatch, None)
    expected = _board(deepworks.run(raw, runs_dir=tmp_path / "here", progress=False))
    scores = [{r["model"]: r["accuracy"] for r in b["rows"]} for b in (board, expected)]
    assert scores[0] == scores[1] and len(scores[0]) == 5


def test_a_fit_handed_aside_by_a_failed_run_serves_the_next_run(tmp_path, monkeypatch):
    """A run that fails in training leaves its helper to finish the baselines it was given:
    the next run on the same split scores them, fitting none (they are that split's, cached),
    and the same helper serves both."""
    from sklearn.ensemble import RandomForestClassifier

    from deepworks import experiment
    from deepworks.core import cpus
    from tests.conftest import Killed, trainer_killed_when

    here = []
    monkeypatch.setattr(RandomForestClassifier, "fit", lambda *a, **k: here.append(1))
    monkeypatch.setattr(cpus, "available_cpus", lambda: 2)
    monkeypatch.setattr(cpus, "idle_cpus", lambda: 2.0)
    pool = _Patient(1, WARM)
    _baselines_helper(monkeypatch, pool)
    trainer = experiment.Trainer
    monkeypatch.setattr(experiment, "Trainer", trainer_killed_when(lambda s: s.epoch == 1))
    raw = tiny_config("wine", epochs=3) | {"evaluate": {"explain": 0}}
    try:
        with pytest.raises(Killed):
            deepworks.run(raw, runs_dir=tmp_path, progress=False)
        pool.wait()  # it goes on with the job, whoever waits for it
        monkeypatch.setattr(experiment, "Trainer", trainer)
        board = _board(deepworks.run(raw, runs_dir=tmp_path, progress=False))
    finally:
        pool.close()
    assert here == [] and len(pool._processes) == 1
    rows = {r["model"]: r for r in board["rows"]}
    assert all(
        rows[m].get("cached") and rows[m]["beside_training"] for m in rows if m != "mlp (deep)"
    )
