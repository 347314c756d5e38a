"""Knowing what it does not know: table rows unlike anything in training — a category never
seen, a number far outside the training range, every value empty — are flagged per row with
the reason and referred to a human whatever the softmax says; ordinary rows are not."""

import numpy as np
import pandas as pd
import pytest

import deepworks
from deepworks.catalog import load_config
from deepworks.tasks import load_data
from tests.bad_inputs.helpers import table


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    raw = {
        "data": {"dataset": "csv", "path": str(table(folder / "t.csv", n=600)), "target": "kind"},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 5, "optimizer": {"name": "adam", "lr": 0.01}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    run = deepworks.run(raw, runs_dir=folder / "runs", progress=False)
    cfg = load_config(run.folder.config)
    test = load_data(cfg.data, cfg.task, cfg.seed).test_rows.drop(columns=["kind"])
    return run, test


def test_rows_unlike_training_are_flagged_and_referred(kinds):
    run, test = kinds
    ordinary = test.iloc[0].to_dict()
    rows = pd.DataFrame(
        [
            ordinary | {"colour": "purple"},  # never seen
            ordinary | {"size": 10_000.0},  # thousands of standard deviations out
            {k: None for k in ordinary},  # nothing at all
            ordinary,
        ]
    )
    predicted = run.predict(rows)
    reasons = list(predicted["out_of_distribution"])
    assert "'purple' was never seen" in reasons[0]
    assert "`size` = 10000 is far outside training" in reasons[1]
    assert "every value is empty" in reasons[2]
    assert reasons[3] == ""
    assert list(predicted["decision"][:3]) == ["refer to a human"] * 3


def test_ordinary_rows_are_rarely_flagged_and_shifted_ones_always(kinds):
    run, test = kinds
    held_out = run.predict(test)["out_of_distribution"]
    assert np.mean([bool(r) for r in held_out]) < 0.02
    shifted = test.assign(weight=test["weight"] + 10 * test["weight"].std())  # a new scale
    flagged = run.predict(shifted)["out_of_distribution"]
    assert np.mean([bool(r) for r in flagged]) > 0.95


def test_noise_images_are_flagged_and_digits_are_not(tmp_path):
    """Digits (8×8): held-out digits pass; uniform noise and blank pages are flagged and
    referred, whatever the softmax says."""
    raw = {
        "data": {"dataset": "digits"},
        "model": {"name": "cnn", "channels": [8], "hidden": 16},
        "train": {"epochs": 2},
        "evaluate": {"baselines": False, "explain": 0},
    }
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    cfg = load_config(run.folder.config)
    test = load_data(cfg.data, cfg.task, cfg.seed).test  # normalized: back to [0, 1]
    encoder = run.schema.encoder
    held_out = (test.x[:, 0] * encoder["std"][0] + encoder["mean"][0]).numpy()
    flags = run.predict(held_out)["out_of_distribution"]
    assert len(flags) > 200 and np.mean([bool(r) for r in flags]) < 0.02
    rng = np.random.default_rng(0)
    strange = np.concatenate([rng.random((20, 8, 8)), np.ones((5, 8, 8))]).astype("float32")
    predicted = run.predict(strange)
    assert all("unlike the training images" in r for r in predicted["out_of_distribution"])
    assert set(predicted["decision"]) == {"refer to a human"}


def test_texts_in_words_never_seen_are_flagged(tmp_path):
    from tests.bad_inputs.helpers import texts

    raw = {
        "data": {"dataset": "csv", "path": str(texts(tmp_path / "r.csv")), "text": "review",
                 "target": "label"},
        "model": {"name": "lstm", "embed_dim": 8, "hidden": 8},
        "train": {"epochs": 2},
        "evaluate": {"baselines": False, "explain": 0},
    }  # fmt: skip
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    predicted = run.predict(["lovely fresh tea", "zxq vlorp grindle snarf", "stale tea, bland"])
    reasons = list(predicted["out_of_distribution"])
    assert reasons[0] == "" and reasons[2] == ""
    assert "100% of its words were never seen" in reasons[1]
    assert predicted["decision"][1] == "refer to a human"
