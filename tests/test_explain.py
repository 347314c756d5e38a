"""Explanations: Captum attributions that add up, point at what matters, and are drawn."""

import numpy as np
import pandas as pd
import pytest
import torch

import deepworks
from deepworks.explain.attributions import available
from deepworks.explain.explainer import example_indices
from tests.conftest import assert_user_error, tiny_config


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    raw = tiny_config("digits", model="cnn", epochs=3)
    raw["evaluate"] = {"baselines": False, "explain": 3}
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def _digits(n):
    from sklearn.datasets import load_digits

    return (load_digits().images[-n:] / 16).astype(np.float32)  # as the dataset loads them


def test_integrated_gradients_pass_the_completeness_check(digits_run):
    images = _digits(12)
    e = digits_run.explain(images, batch_size=5)  # three batches of 5, 5, 2
    assert set(e.attributions) == {"grad-cam", "integrated-gradients", "saliency"}
    assert all(a.shape == (12, 1, 8, 8) for a in e.attributions.values())
    # sum of attributions = F(x) − F(baseline), within 2 % (Captum's convergence delta)
    assert e.delta.shape == (12,) and e.delta.max() < 0.02 and np.median(e.delta) < 0.01
    assert e.predictions == digits_run.predict(images)["prediction"].tolist()


def test_explaining_another_class_changes_the_attributions(digits_run):
    image = _digits(1)
    own = digits_run.explain(image, ["integrated-gradients"])
    other_class = "3" if own.predictions[0] != "3" else "4"
    other = digits_run.explain(image, ["integrated-gradients"], target=other_class)
    assert other.explained == [other_class]
    a, b = own.attributions["integrated-gradients"], other.attributions["integrated-gradients"]
    assert not np.allclose(a, b)


def test_a_run_writes_sample_explanations_one_per_class_first(digits_run):
    files = sorted((digits_run.path / "explanations").glob("*.png"))
    assert len(files) == 3
    table = pd.read_csv(digits_run.path / "explanations" / "explanations.csv")
    assert len(table) == 3 and (table["ig_relative_delta"] < 0.02).all()
    labels = torch.tensor([3, 3, 1, 0, 1, 2])
    assert example_indices(labels, 3, 6) == [0, 2, 3]  # first 3, first 1, first 0
    assert example_indices(labels, 5, 6) == [0, 1, 2, 3, 5]


def test_explain_cli_writes_overlays_for_image_files(digits_run, tmp_path, cli):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((8, 8)) * 255).astype("uint8")).save(
            folder / f"digit{i}.png"
        )
    out = tmp_path / "why"
    result = cli("explain", digits_run.path, folder, "-o", out, "-m", "grad-cam", "--limit", "2")
    assert result.code == 0, result.err
    assert result.last_line == str(out)
    assert sorted(p.name for p in out.glob("*.png")) == ["0000-digit0.png", "0001-digit1.png"]
    table = pd.read_csv(out / "explanations.csv")
    assert list(table["input"]) == [str(folder / "digit0.png"), str(folder / "digit1.png")]


def test_explain_bad_requests_are_clear_errors(digits_run, tmp_path, cli):
    assert_user_error(cli("explain", digits_run.path, tmp_path / "nothing.png"), "does not exist")
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (8, 8)).save(image)
    assert_user_error(
        cli("explain", digits_run.path, image, "--method", "integrated-gradient"),
        "Did you mean `integrated-gradients`",
    )
    assert_user_error(cli("explain", digits_run.path, image, "--target", "11"), "no class `11`")


def test_table_attributions_find_the_feature_that_decides(tmp_path, cli):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "noise_a": rng.normal(size=n),
            "signal": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    frame["label"] = np.where(frame["signal"] > 0, "yes", "no")
    frame.to_csv(tmp_path / "t.csv", index=False)
    raw = tiny_config("csv", epochs=15)
    raw["data"].update(path=str(tmp_path / "t.csv"), target="label")
    raw["evaluate"] = {"baselines": False, "explain": 0}
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    assert run.metrics["test"]["accuracy"] > 0.9
    assert available(run.model, "table") == ["integrated-gradients", "saliency"]
    out = tmp_path / "why"
    rows = frame.drop(columns="label").head(40)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = cli("explain", run.path, tmp_path / "rows.csv", "-o", out)
    assert result.code == 0, result.err
    attributions = pd.read_csv(out / "attributions-integrated-gradients.csv")
    assert list(attributions.columns) == ["input", "noise_a", "signal", "noise_b", "colour"]
    importance = attributions.drop(columns="input").abs().mean()
    assert importance.idxmax() == "signal"
    assert importance["signal"] > 3 * importance.drop("signal").max()
    assert (out / "feature_importance.png").is_file()
    # a run that is not a classifier or regressor cannot be explained
    raw = tiny_config("iris", model="autoencoder", epochs=1)
    raw["model"] = {"name": "autoencoder"}
    raw["task"] = "autoencoder"
    auto = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    assert_user_error(cli("explain", auto.path, tmp_path / "rows.csv"), "autoencoder model")


def test_text_attributions_and_attention(tmp_path):
    rng = np.random.default_rng(0)
    filler = ["the", "tea", "was", "a", "cup", "of", "this", "with", "milk", "today"]
    texts, labels = [], []
    for i in range(400):
        words = list(rng.choice(filler, size=6))
        cue = "great" if i % 2 else "awful"
        words.insert(int(rng.integers(0, 6)), cue)
        texts.append(" ".join(words))
        labels.append("pos" if i % 2 else "neg")
    pd.DataFrame({"review": texts, "label": labels}).to_csv(tmp_path / "r.csv", index=False)
    raw = tiny_config("csv", model="transformer", epochs=6)
    raw["data"].update(path=str(tmp_path / "r.csv"), text="review", target="label")
    raw["data"]["tokenizer"] = {"max_length": 12}
    raw["model"] = {"name": "transformer", "d_model": 32, "heads": 2, "layers": 1, "ff_dim": 64}
    raw["evaluate"] = {"baselines": False, "explain": 2}
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    assert run.metrics["test"]["accuracy"] > 0.95
    samples = ["the tea was great with milk", "a cup of awful tea today"]
    e = run.explain(samples)
    assert e.tokens[0] == ["the", "tea", "was", "great", "with", "milk"]
    scores = e.attributions["integrated-gradients"]
    assert scores.shape == (2, 12)
    for tokens, row, cue in zip(e.tokens, scores, ["great", "awful"], strict=True):
        assert tokens[int(np.abs(row[: len(tokens)]).argmax())] == cue  # the word that decides
    assert e.delta.max() < 0.05
    # attention: (N, layers, L, L) over the real tokens, rows are distributions
    assert e.attention.shape[:2] == (2, 1)
    assert np.allclose(e.attention[0, 0, :6, :6].sum(-1), 1, atol=1e-4)
    page = (run.path / "explanations" / "tokens.html").read_text()
    assert page.count("class='text'") == 2 and "<span" in page
    assert len(list((run.path / "explanations").glob("*attention*.png"))) == 2


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_attention_maps_cover_the_token_positions(pooling):
    from deepworks.models import build_model
    from tests.test_models import TEXT_SCHEMA

    torch.manual_seed(0)
    model = build_model("transformer", {"pooling": pooling, "layers": 2}, TEXT_SCHEMA).eval()
    ids = torch.zeros(2, 12, dtype=torch.long)
    ids[0, :7], ids[1, :4] = 5, 6  # padding trimmed to the longest text: 7 positions
    maps = model.attention_maps(ids)
    assert maps.shape == (2, 2, 7, 7)  # no CLS row or column, even when pooling by it
    assert (maps[1, :, :, 4:] == 0).all()  # nobody attends to padding
