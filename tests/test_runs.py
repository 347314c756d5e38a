"""The whole path a user walks: run → run folder → runs list → reload → predict / evaluate."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

import deepworks
from tests.conftest import EXAMPLES, assert_user_error, tiny_config


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    # every epoch checkpointed: at the default budget a fast machine skips all of iris's
    # (epochs of milliseconds), and the folder's layout is what this file checks
    overrides = ["train.epochs=20", "train.checkpoint_budget=1"]
    run = deepworks.run(EXAMPLES / "iris.yaml", runs_dir=runs, overrides=overrides, progress=False)
    return run


def test_run_folder_holds_everything_as_data(iris_run):
    files = {p.name for p in iris_run.path.iterdir()}
    assert {
        "config.yaml",
        "run.json",
        "model.json",
        "model.safetensors",
        "metrics.jsonl",
        "metrics.json",
        "checkpoints",
        "learning_curves.png",
        "confusion_matrix.png",
    } <= files
    metrics = json.loads((iris_run.path / "metrics.json").read_text())
    assert set(metrics) == {"valid", "test"}
    assert {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc"} <= set(
        metrics["test"]
    )
    assert len(metrics["test"]["confusion_matrix"]) == 3
    lines = (iris_run.path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 20 and "valid_accuracy" in json.loads(lines[-1])
    assert iris_run.info["status"] == "completed"
    assert iris_run.metrics["test"]["accuracy"] > 0.8


def test_loading_a_run_never_unpickles(iris_run, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling while loading a run")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    run = deepworks.load(iris_run.path)
    assert run.predict(np.zeros((2, 4))).shape[0] == 2


def test_predict_round_trip_from_a_reloaded_run(iris_run, cli, tmp_path):
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.drop(columns=["target"]).head(30)
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    result = cli("predict", iris_run.path, path, "-o", out)
    assert result.code == 0 and result.last_line == str(out)
    pred = pd.read_csv(out)
    proba = pred[[c for c in pred.columns if c.startswith("proba_")]].to_numpy()
    assert proba.shape == (30, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    # The reloaded model predicts what the in-memory one does, and mostly right.
    again = deepworks.load(iris_run.path).predict(frame)
    assert (again["prediction"].to_numpy() == pred["prediction"].to_numpy()).all()
    truth = np.asarray(bunch.target_names)[bunch.target.head(30)]
    assert (pred["prediction"].to_numpy() == truth).mean() > 0.8


def test_predict_with_a_missing_column_names_it(iris_run, cli, tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"sepal length (cm)": [1.0], "sepal width (cm)": [2.0]}).to_csv(path, index=False)
    assert_user_error(cli("predict", iris_run.path, path), "missing column(s)", "petal length (cm)")


def test_evaluate_on_the_test_split_and_on_new_labelled_data(iris_run, cli, tmp_path):
    result = cli("evaluate", iris_run.path)
    assert result.code == 0
    assert json.loads(result.last_line)["accuracy"] == pytest.approx(
        iris_run.metrics["test"]["accuracy"]
    )
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.asarray(bunch.target_names)[bunch.target]
    path = tmp_path / "labelled.csv"
    frame.to_csv(path, index=False)
    metrics = json.loads(cli("evaluate", iris_run.path, "--data", path).last_line)
    assert metrics["accuracy"] > 0.8
    frame.loc[0, "target"] = "orchid"
    frame.to_csv(path, index=False)
    assert_user_error(cli("evaluate", iris_run.path, "--data", path), "orchid", "not seen")


def test_runs_lists_and_shows(iris_run, cli):
    runs_dir = iris_run.path.parent
    listing = cli("runs", "--runs-dir", runs_dir)
    assert listing.code == 0
    assert iris_run.folder.id in listing.out and "completed" in listing.out
    shown = cli("runs", "show", iris_run.folder.id, "--runs-dir", runs_dir)
    assert shown.code == 0 and "accuracy" in shown.out and "model.safetensors" in shown.out
    assert_user_error(cli("runs", "show", "nope", "--runs-dir", runs_dir), "no run `nope`")


def test_cli_run_prints_metrics_and_the_run_path_last(cli, tmp_path):
    cfg = tmp_path / "wine.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config("wine")))
    result = cli("run", cfg, "--runs-dir", tmp_path / "runs", "--threads", "1", "-q")
    assert result.code == 0, result.err
    assert "accuracy" in result.out and "test" in result.out
    assert (tmp_path / "runs").resolve() in __import__("pathlib").Path(
        result.last_line
    ).resolve().parents


def test_predict_images_with_a_digits_run(cli, tmp_path):
    from sklearn.datasets import load_digits

    run = deepworks.run(
        tiny_config("digits", "cnn", epochs=4), runs_dir=tmp_path / "runs", progress=False
    )
    digits = load_digits()
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(20):
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).save(folder / f"{i:02}.png")
    out = tmp_path / "p.csv"
    assert cli("predict", run.path, folder, "-o", out).code == 0
    pred = pd.read_csv(out)
    assert len(pred) == 20 and pred["input"].str.endswith(".png").all()
    assert (pred["prediction"].to_numpy() == digits.target[:20]).mean() >= 0.7
    single = run.predict(folder / "00.png")
    assert single.loc[0, "prediction"] == str(pred.loc[0, "prediction"])
    (folder / "bad.png").write_bytes(b"nope")
    assert_user_error(cli("predict", run.path, folder / "bad.png", "-o", out), "bad.png")


def test_resuming_a_completed_run_is_refused(iris_run, cli):
    assert_user_error(cli("resume", iris_run.path), "already completed")


def test_diverging_run_is_marked_failed_with_a_clear_message(cli, tmp_path):
    raw = tiny_config("diabetes", epochs=3, optimizer={"name": "sgd", "lr": 1e6})
    cfg = tmp_path / "boom.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    result = cli("run", cfg, "--runs-dir", tmp_path / "runs", "-q")
    assert_user_error(result, "training loss became", "Lower `train.optimizer.lr`")
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    assert json.loads(run_json.read_text())["status"] == "failed"


def test_predict_on_a_missing_file_or_unknown_run(iris_run, cli, tmp_path):
    assert_user_error(cli("predict", iris_run.path, tmp_path / "nope.csv"), "does not exist")
    assert_user_error(cli("predict", tmp_path / "norun", tmp_path / "x.csv"), "no run")


def test_runs_index_is_rebuilt_from_the_folders_when_missing(iris_run, cli, tmp_path):
    import shutil

    copy = tmp_path / "copied"
    shutil.copytree(iris_run.path, copy / iris_run.folder.id)
    listing = cli("runs", "--runs-dir", copy)
    assert iris_run.folder.id in listing.out and "completed" in listing.out
