"""Augmentation: training split only, reproducible from the seed, one clear error per misuse."""

import pytest
import torch

import deepworks
from deepworks.config import AugmentConfig, DataConfig
from deepworks.core.errors import ConfigError
from deepworks.core.schema import Schema
from deepworks.data.augment import augmented
from deepworks.data.datasets import TensorData
from deepworks.tasks import load_data
from tests.conftest import assert_user_error


@pytest.fixture(scope="module")
def digits():
    return load_data(DataConfig(dataset="digits"))


def _batch(data, epoch=0, indices=range(16)):
    data.set_epoch(epoch)
    return data.__getitems__(list(indices))


def test_image_augmentation_is_repeatable_and_varies_by_epoch(digits):
    cfg = AugmentConfig(rotate=20, crop=0.7, flip=True)
    a = augmented(digits.train, cfg, digits.schema, seed=0)
    b = augmented(digits.train, cfg, digits.schema, seed=0)
    x0, y0 = _batch(a)
    assert torch.equal(x0, _batch(b)[0])  # the same seed draws the same
    assert not torch.equal(x0, _batch(a, epoch=1)[0])  # ... and a new epoch draws anew
    assert not torch.equal(x0, digits.train.x[:16])  # it changed the images
    assert torch.equal(y0, digits.train.y[:16]) and x0.shape == (16, 1, 8, 8)
    state = torch.get_rng_state()
    _batch(a)
    assert torch.equal(state, torch.get_rng_state())  # dropout's random stream is untouched


def test_flip_mirrors_images_and_returns_to_the_models_normalization(digits):
    flip = augmented(digits.train, AugmentConfig(flip=True), digits.schema, seed=3)
    x, _ = _batch(flip, indices=range(64))
    original = digits.train.x[:64]
    same = torch.isclose(x, original, atol=1e-5).flatten(1).all(1)
    mirrored = torch.isclose(x, original.flip(-1), atol=1e-5).flatten(1).all(1)
    assert (same | mirrored).all()  # nothing else changed on the way to pixels and back
    assert 10 < int((mirrored & ~same).sum()) < 54  # about half flipped


def test_mixup_gives_soft_labels_that_sum_to_one(digits):
    mix = augmented(digits.train, AugmentConfig(mixup=0.4), digits.schema, seed=0)
    _, y = _batch(mix)
    assert y.shape == (16, 10) and torch.allclose(y.sum(1), torch.ones(16))
    assert (y.max(1).values < 1).any()  # some labels are mixed


def test_text_augmentation_drops_and_swaps_tokens_but_never_padding():
    x = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [10, 11, 12, 0, 0, 0, 0]]).repeat(50, 1)
    schema = Schema("text", "classification", (7,), "y", classes=["a", "b"])
    data = TensorData(x, torch.zeros(len(x), dtype=torch.long))
    out, _ = _batch(
        augmented(data, AugmentConfig(token_dropout=0.2, swap=0.2), schema, 0), indices=range(100)
    )
    assert torch.equal(out == 0, x == 0)  # padding stays where it was
    assert (out == 1).any()  # some tokens became <unk>
    kept = (out != 1) & (out != 0)
    assert (out[kept] != x[kept]).any()  # some swapped
    for row_in, row_out in zip(x, out, strict=True):  # the same tokens, bar the <unk>s
        real = row_out[(row_out != 0) & (row_out != 1)].tolist()
        assert set(real) <= set(row_in.tolist())


def test_series_augmentation_keeps_shapes_and_refuses_level_changes_for_forecasts():
    x = torch.sin(torch.linspace(0, 6, 32)).repeat(8, 1)[..., None]
    schema = Schema("series", "classification", (32, 1), "y", classes=["a", "b"])
    data = TensorData(x, torch.zeros(8, dtype=torch.long))
    cfg = AugmentConfig(jitter=0.05, scale=0.1, warp=0.2)
    out, _ = _batch(augmented(data, cfg, schema, 0), indices=range(8))
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert (out - x).abs().mean() < 0.5  # still the same curve, roughly
    forecast = Schema("series", "forecast", (32, 1), "y", horizon=1)
    with pytest.raises(ConfigError, match="use jitter"):
        augmented(data, AugmentConfig(scale=0.1), forecast, 0)


def test_an_augmentation_for_another_kind_of_data_is_named(tmp_path, cli):
    config = tmp_path / "a.yaml"
    config.write_text("data: {dataset: iris, augment: {flip: true}}\nmodel: {name: mlp}\n")
    assert_user_error(cli("run", config, "--runs-dir", tmp_path), "augment.flip", "table")
    config.write_text("data: {dataset: digits, augment: {flipp: true}}\nmodel: {name: cnn}\n")
    assert_user_error(cli("run", config, "--runs-dir", tmp_path), "flipp", "flip")


def test_an_augmented_run_repeats_exactly(tmp_path):
    raw = {
        "data": {"dataset": "digits", "train_size": 200, "augment": {"rotate": 10, "crop": 0.8}},
        "model": {"name": "cnn", "channels": [8], "hidden": 16},
        "train": {"epochs": 2},
    }
    a = deepworks.run(raw, runs_dir=tmp_path / "a", progress=False)
    b = deepworks.run(raw, runs_dir=tmp_path / "b", progress=False)
    assert [r["train_loss"] for r in a.history()] == [r["train_loss"] for r in b.history()]
