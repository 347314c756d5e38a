"""GANs: two optimizers in one task, samples judged by a classifier of the real data."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

import deepworks
from deepworks.core.schema import Schema
from deepworks.metrics.streams import ClassifierScore
from deepworks.models import build_model
from tests.conftest import assert_user_error, killed_and_resumed


@pytest.mark.parametrize("task", ["gan", "conditional-gan"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 30, 18)])
def test_the_generator_makes_images_shaped_like_the_data(task, shape):
    schema = Schema("image", task, shape, "label", classes=list("abc"))
    model = build_model("dcgan", {"latent": 4, "width": 8}, schema).eval()
    labels = torch.tensor([0, 2, 1, 0, 1])
    fake = model(model.noise(5), labels)
    assert fake.shape == (5, *shape)
    pixels = model.to_pixels(fake)
    assert pixels.min() >= 0 and pixels.max() <= 1
    assert model.critic(fake, labels).shape == (5,)


def test_a_conditional_generator_depends_on_the_label():
    schema = Schema("image", "conditional-gan", (1, 8, 8), "label", classes=list("abc"))
    model = build_model("dcgan", {"latent": 4, "width": 8}, schema).eval()
    z = model.noise(1).expand(2, -1)
    a, b = model(z, torch.tensor([0, 1]))
    assert not torch.allclose(a, b)


def test_classifier_score_is_the_inception_score():
    k = 4
    confident_all_classes = torch.eye(k).repeat(5, 1)
    one_class = torch.eye(k)[[0] * 20]
    for probs, expected in ((confident_all_classes, k), (one_class, 1.0)):
        metric = ClassifierScore()
        for chunk in probs.split(7):  # streamed in batches
            metric.update(chunk, torch.zeros(len(chunk)))
        assert metric.compute().item() == pytest.approx(expected, rel=1e-4)
    probs = torch.softmax(torch.randn(50, k, generator=torch.Generator().manual_seed(0)), 1)
    metric = ClassifierScore()
    metric.update(probs, torch.zeros(50))
    p = probs.double()
    kl = (p * (p.log() - p.mean(0).log())).sum(1).mean()
    assert metric.compute().item() == pytest.approx(math.exp(kl), rel=1e-5)


@pytest.fixture(scope="module")
def digits_cgan(tmp_path_factory):
    raw = {
        "task": "conditional-gan",
        "data": {"dataset": "digits", "batch_size": 64},
        "model": {"name": "dcgan", "latent": 32, "width": 64},
        "train": {"epochs": 30, "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
    }
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.mark.slow
def test_conditional_samples_are_recognized_as_the_requested_digit(digits_cgan):
    test = digits_cgan.metrics["test"]
    assert test["judge_accuracy_real"] > 0.9  # the judge knows the digits
    assert test["recognized"] >= 0.8  # ... and sees the requested one in the samples
    assert test["classifier_score"] > 5  # confident and spread over the classes (max 10)
    history = digits_cgan.history()
    assert history[-1]["valid_recognized"] > history[0]["valid_recognized"] + 0.3
    grids = sorted((digits_cgan.path / "samples").glob("epoch_*.png"))
    assert len(grids) == 30
    with Image.open(grids[-1]) as grid:  # 10 rows of 8 samples, 8 px + 1 px padding
        assert grid.size == (1 + 8 * 9, 1 + 10 * 9)
    assert (digits_cgan.path / "samples.png").is_file()
    assert (digits_cgan.path / "gan_judge.png").is_file()


@pytest.mark.slow
def test_generate_draws_the_requested_class(digits_cgan, cli, tmp_path):
    images, asked = digits_cgan.generate_images(20, "3", seed=0)
    assert images.shape == (20, 1, 8, 8) and set(asked) == {"3"}
    again, _ = digits_cgan.generate_images(20, "3", seed=0)
    assert np.array_equal(images, again)  # a seed repeats the samples
    # The run's own judge, as a classifier of the digits, sees threes.
    model = digits_cgan.model
    seen = model.judge_proba((torch.from_numpy(images) - model.mean) / model.std).argmax(1)
    assert (seen == 3).float().mean() >= 0.8

    out = tmp_path / "threes.png"
    result = cli("generate", digits_cgan.path, "--n", "16", "--label", "3", "-o", out)
    assert result.code == 0 and out.is_file()
    with Image.open(out) as grid:  # 2 rows of 8
        assert grid.size == (1 + 8 * 9, 1 + 2 * 9)


@pytest.mark.slow
def test_generate_refuses_a_label_the_run_does_not_have(digits_cgan, cli, tmp_path):
    result = cli("generate", digits_cgan.path, "--label", "11", "-o", tmp_path / "x.png")
    assert_user_error(result, "no class `11`", "Did you mean `1`?", "Classes: 0, 1,")
    assert not (tmp_path / "x.png").exists()
    assert_user_error(cli("generate", digits_cgan.path, "--n", "0"), "at least 1")
    assert_user_error(
        cli("predict", digits_cgan.path, "x.csv"), "generates images", "deepworks generate"
    )


def test_an_unconditional_gan_trains_and_refuses_a_label(tmp_path, cli):
    raw = {
        "task": "gan",
        "data": {"dataset": "digits", "batch_size": 64, "limit": 300},
        "model": {"name": "dcgan", "latent": 8, "width": 16},
        "train": {"epochs": 2},
    }
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    assert {"classifier_score", "judge_accuracy_real"} <= set(run.metrics["test"])
    assert "recognized" not in run.metrics["test"]
    with Image.open(run.path / "samples.png") as grid:  # 8 × 8 samples
        assert grid.size == (1 + 8 * 9, 1 + 8 * 9)
    result = cli("generate", run.path, "--label", "3", "-o", tmp_path / "x.png")
    assert_user_error(result, "unconditional GAN", "task: conditional-gan")


def test_a_gan_needs_labelled_images_and_an_image_model(tmp_path, cli):
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "imgs" / "a" / "0.png")
    config = tmp_path / "gan.yaml"
    config.write_text(
        f"task: gan\ndata: {{dataset: image-folder, path: {tmp_path / 'imgs'}}}\n"
        "model: {name: dcgan}\n"
    )
    assert_user_error(
        cli("run", config, "--runs-dir", tmp_path / "runs"), "imgs/b", "class folder has no images"
    )
    config.write_text("task: gan\ndata: {dataset: digits}\nmodel: {name: mlp}\n")
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs"), "does not do gan")


def test_a_killed_gan_resumes_to_the_same_weights(tmp_path):
    """Two optimizers, the noise drawn from the global RNG: all restored from the checkpoint."""
    raw = {
        "task": "gan",
        "data": {"dataset": "digits", "limit": 200, "batch_size": 32},
        "model": {"name": "dcgan", "latent": 4, "width": 8},
        "train": {"epochs": 3},
    }
    full, resumed = killed_and_resumed(raw, "gan", tmp_path, kill_after_epoch=1)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
