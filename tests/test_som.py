"""The self-organizing map: learns without gradients, maps new data, draws its maps."""

import itertools

import numpy as np
import pytest
import torch

import deepworks
from deepworks.core.schema import Schema
from deepworks.models import build_model
from tests.conftest import killed_and_resumed


def test_kohonen_update_pulls_the_winner_and_its_neighbours():
    schema = Schema("table", "som", (2,), "y")
    som = build_model("som", {"rows": 3, "cols": 3, "sigma": 1.0, "lr": 1.0}, schema)
    som.total_steps.fill_(100)
    before = som.weights.clone()
    x = torch.tensor([[5.0, 5.0]])
    winner = int(som.bmu(x))
    som.update(x)
    # The share of the way to x each unit travels: 1 at the winner, h(grid distance) elsewhere.
    share = (som.weights - before).norm(dim=1) / (x - before).norm(dim=1)
    d2 = (som.grid - som.grid[winner]).pow(2).sum(1)
    assert torch.allclose(som.weights[winner], x[0])  # lr 1, h = 1 at the winner
    assert torch.allclose(share, torch.exp(-d2 / 2), atol=1e-5)  # sigma 1


@pytest.fixture(scope="module")
def digits_som(tmp_path_factory):
    raw = {
        "task": "som",
        "data": {"dataset": "digits", "batch_size": 64},
        "model": {"name": "som", "rows": 8, "cols": 8},
        "train": {"epochs": 8},
    }
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def test_quantization_error_falls_and_the_map_is_ordered(digits_som):
    history = digits_som.history()
    errors = [r["valid_quantization_error"] for r in history]
    assert errors[-1] < 0.85 * errors[0] and all(
        b <= a + 1e-3 for a, b in itertools.pairwise(errors)
    )
    test = digits_som.metrics["test"]
    assert test["topographic_error"] < 0.1  # neighbours on the map are neighbours in the data
    assert test["som_ari"] > 0.4  # the map clusters the digits without labels
    assert (digits_som.path / "som.png").stat().st_size > 10_000


def test_new_data_is_mapped_to_units(digits_som):
    from sklearn.datasets import load_digits

    images = (load_digits().images[:5] / 16.0).astype(np.float32)[:, None]
    mapped = digits_som.predict(images)
    assert mapped["bmu_row"].between(0, 7).all() and mapped["bmu_col"].between(0, 7).all()
    assert (mapped["quantization_error"] > 0).all()
    assert digits_som.embed(images).shape == (5, 3)  # input, row, column


def test_a_killed_som_resumes_to_the_same_map(tmp_path):
    raw = {
        "task": "som",
        "data": {"dataset": "iris", "batch_size": 16},
        "model": {"name": "som", "rows": 4, "cols": 4},
        "train": {"epochs": 4},
    }
    full, resumed = killed_and_resumed(raw, "som", tmp_path, kill_after_epoch=2)
    assert torch.equal(full.weights, resumed.weights)
