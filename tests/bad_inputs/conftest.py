"""The sweep's trained run: a small price regression that refused commands must leave as it
was."""

import pytest

import deepworks
from tests.bad_inputs.helpers import table


@pytest.fixture(scope="module")
def price_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("price")
    raw = {
        "name": "prices",
        "data": {"dataset": "csv", "path": str(table(folder / "prices.csv")), "target": "price"},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.01}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    return deepworks.run(raw, runs_dir=folder / "runs", progress=False)
