"""Autoencoders and the VAE: learning codes without labels, clustering them, embedding data."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import deepworks
from deepworks.core.errors import ModelError
from deepworks.core.schema import Schema
from deepworks.models import build_model
from tests.conftest import assert_user_error

AUTOENCODERS = ["autoencoder", "vae", "conv-autoencoder"]


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_codes_and_reconstructions_have_the_right_shapes(name):
    schema = Schema("image", "autoencoder", (1, 8, 8), "label", classes=list("ab"))
    model = build_model(name, {"latent": 3}, schema).eval()
    x = torch.randn(5, 1, 8, 8)
    assert model.encode(x).shape == (5, 3) and model(x).shape == x.shape


def test_models_refuse_the_wrong_task():
    table = Schema("table", "classification", (4,), "y", classes=["a", "b"])
    with pytest.raises(ModelError, match="does not do classification"):
        build_model("vae", {}, table)
    with pytest.raises(ModelError, match="does not do autoencoder; models that do"):
        build_model("mlp", {}, Schema("table", "autoencoder", (4,), "y"))


@pytest.fixture(scope="module")
def digits_vae(tmp_path_factory):
    raw = {
        "task": "autoencoder",
        "data": {"dataset": "digits", "batch_size": 32},
        "model": {"name": "vae", "hidden": [64], "latent": 8},
        "train": {"epochs": 25, "optimizer": {"name": "adam", "lr": 0.002}},
    }
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def test_vae_codes_cluster_into_the_digits(digits_vae):
    test = digits_vae.metrics["test"]
    assert test["kmeans_ari"] >= 0.5 and test["kmeans_nmi"] > 0.5
    assert -1 <= test["silhouette"] <= 1
    history = digits_vae.history()
    assert history[-1]["valid_mse"] < history[0]["valid_mse"]
    assert (digits_vae.path / "embedding.png").is_file()


def test_pca_of_the_same_width_is_on_the_leaderboard(digits_vae):
    """PCA with the code's 8 components, fit on the training split, scored like the model."""
    from sklearn.decomposition import PCA

    from deepworks.catalog import load_config
    from deepworks.tasks import load_data

    cfg = load_config(digits_vae.folder.config)
    bundle = load_data(cfg.data, "autoencoder", cfg.seed)
    pca = PCA(8, random_state=0).fit(bundle.train.x.flatten(1).numpy())
    x = bundle.test.x.flatten(1).numpy()
    by_hand = ((pca.inverse_transform(pca.transform(x)) - x) ** 2).mean()
    test = digits_vae.metrics["test"]
    assert test["pca_mse"] == pytest.approx(by_hand, rel=1e-4)
    assert 0 < test["pca_kmeans_ari"] < 1
    rows = digits_vae.leaderboard.set_index("model")
    assert rows.loc["pca", "mse"] == pytest.approx(by_hand, rel=1e-4)


def test_embed_writes_codes_and_predict_scores_reconstruction(digits_vae, cli, tmp_path):
    from sklearn.datasets import load_digits

    images = load_digits().images[:12]
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"{i:02}.png")
    out = tmp_path / "codes.csv"
    result = cli("embed", digits_vae.path, folder, "-o", out)
    assert result.code == 0 and result.last_line == str(out)
    codes = pd.read_csv(out)
    assert codes.shape == (12, 1 + 8) and list(codes.columns[1:3]) == ["code_0", "code_1"]
    scores = digits_vae.predict(folder)
    assert (scores["reconstruction_error"] >= 0).all()
    # Noise reconstructs worse than digits do.
    noise = np.random.default_rng(0).random((12, 1, 8, 8)).astype(np.float32)
    assert (
        digits_vae.predict(noise)["reconstruction_error"].mean()
        > scores["reconstruction_error"].mean()
    )


def test_embed_on_a_classifier_is_a_clear_error(cli, tmp_path):
    run = deepworks.run(
        {"data": {"dataset": "iris"}, "model": {"name": "mlp"}, "train": {"epochs": 1}},
        runs_dir=tmp_path,
        progress=False,
    )
    assert_user_error(
        cli("embed", run.path, tmp_path / "x.csv"), "autoencoder runs and pretrained models"
    )


def test_a_table_autoencoder_without_classes(tmp_path):
    run = deepworks.run(
        {
            "task": "autoencoder",
            "data": {"dataset": "diabetes"},
            "model": {"name": "autoencoder", "hidden": [16], "latent": 2},
            "train": {"epochs": 5},
        },
        runs_dir=tmp_path,
        progress=False,
    )
    assert "kmeans_ari" not in run.metrics["test"] and "silhouette" in run.metrics["test"]
    assert run.embed(np.zeros((3, 10))).shape == (3, 3)


@pytest.fixture(scope="module")
def sevens(tmp_path_factory):
    raw = {
        "task": "anomaly",
        "data": {"dataset": "digits", "anomalous": ["7"], "batch_size": 32},
        "model": {"name": "autoencoder", "hidden": [64], "latent": 8},
        "train": {"epochs": 15, "optimizer": {"name": "adam", "lr": 0.002}},
    }
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def test_anomaly_detection_beats_the_prevalence(sevens):
    test = sevens.metrics["test"]
    assert test["pr_auc"] > 3 * test["prevalence"] and test["roc_auc"] > 0.9
    assert sevens.metrics["valid"]["threshold"] == test["threshold"]  # chosen on valid only


def test_training_never_sees_an_anomaly():
    from deepworks.config import DataConfig
    from deepworks.tasks import load_data

    bundle = load_data(DataConfig(dataset="digits", anomalous=["7", "1"]), task="anomaly")
    assert bundle.train.y.sum() == 0 and bundle.test.y.float().mean() == pytest.approx(
        0.2, abs=0.02
    )


def test_predict_flags_anomalies(sevens):
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)[:, None]
    flags = sevens.predict(images)
    is_seven = d.target == 7
    assert flags["is_anomaly"][is_seven].mean() > 2 * flags["is_anomaly"][~is_seven].mean()


@pytest.mark.parametrize(
    ("anomalous", "message"),
    [(["seven"], "no class `seven` to treat as anomalous"), ([], "needs `data.anomalous`")],
)
def test_anomaly_config_mistakes(anomalous, message, cli, tmp_path):
    import yaml

    cfg = tmp_path / "a.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "task": "anomaly",
                "data": {"dataset": "digits", "anomalous": anomalous},
                "model": {"name": "autoencoder"},
            }
        )
    )
    assert_user_error(cli("run", cfg, "--runs-dir", tmp_path / "runs", "-q"), message)


def test_deep_clustering_pretrains_then_clusters(tmp_path):
    raw = {
        "task": "clustering",
        "data": {"dataset": "digits", "batch_size": 32},
        "model": {"name": "dec", "hidden": [64], "latent": 8, "pretrain": 0.5},
        "train": {"epochs": 16, "optimizer": {"name": "adam", "lr": 0.002}},
    }
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    assert bool(run.model.initialised) and run.model.centroids.abs().sum() > 0
    test = run.metrics["test"]
    assert test["dec_ari"] > 0.4 and test["dec_nmi"] > 0.5
    # predict gives each input the model's own cluster: its nearest centroid
    from sklearn.datasets import load_digits

    images = (load_digits().images[:40] / 16).astype("float32")
    predicted = run.predict(images)
    _, batches = run.encode(images)
    with torch.no_grad():
        codes = run.task.codes(run.model, torch.cat(list(batches))).clone()
        nearest = torch.cdist(codes, run.model.centroids).argmin(1)
    assert list(predicted["cluster"]) == nearest.tolist()
    assert predicted["cluster"].nunique() > 3


def test_an_anomaly_run_evaluates_a_file_labelled_as_its_training_data(tmp_path):
    """Labels as the data writes them (`malignant` / `benign`), not the task's own names."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.assign(target=bunch.target_names[bunch.target])
    frame.to_csv(tmp_path / "cells.csv", index=False)
    raw = {
        "task": "anomaly",
        "data": {"dataset": "csv", "path": str(tmp_path / "cells.csv"), "target": "target",
                 "anomalous": ["malignant"]},
        "model": {"name": "autoencoder", "hidden": [16], "latent": 4},
        "train": {"epochs": 2},
        "evaluate": {"baselines": False, "explain": 0},
    }  # fmt: skip
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    frame.head(60).to_csv(tmp_path / "new.csv", index=False)
    scores = run.evaluate(tmp_path / "new.csv")
    assert scores["loss"] > 0 and 0.5 < scores["roc_auc"] <= 1  # ranked as at training
    assert scores["threshold"] == run.metrics["valid"]["threshold"]
