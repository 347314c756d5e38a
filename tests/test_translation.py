"""Translation: parallel data, subword vocabularies, the two encoder–decoders, greedy and beam
decoding, sacrebleu scores beside the baselines, and the life of a translation run."""

import json
import shutil

import pandas as pd
import pytest
import torch

import deepworks
from deepworks.models import build_model
from deepworks.tasks.decoding import beam_search, greedy
from tests.conftest import assert_user_error

PAIRS = [
    ("the red cat", "le chat rouge"),
    ("the black dog", "le chien noir"),
    ("a red dog", "un chien rouge"),
    ("a black cat", "un chat noir"),
    ("the cat", "le chat"),
    ("a dog", "un chien"),
]


def _bundle(tmp_path, level="word", shared=False):
    from deepworks.config import DataConfig
    from deepworks.data.bundle import build_bundle, load_source

    path = tmp_path / "pairs.csv"
    pd.DataFrame(PAIRS * 10, columns=["en", "fr"]).to_csv(path, index=False)
    cfg = DataConfig(
        dataset="csv", path=path, source="en", target="fr",
        tokenizer={"level": level, "shared": shared, "max_vocab": 60},
    )  # fmt: skip
    return build_bundle(load_source(cfg), "translation", cfg, 0)


@pytest.mark.parametrize(
    "name,params",
    [
        ("transformer-seq2seq", {"d_model": 16, "heads": 2, "ff_dim": 32}),
        ("rnn-attention", {"embed": 8, "hidden": 16, "cell": "lstm", "attention": "luong"}),
        ("rnn-attention", {"embed": 8, "hidden": 16}),
    ],
)
def test_a_step_at_a_time_equals_the_whole_prefix(name, params, tmp_path):
    """Decoding uses each model's incremental step (caches, recurrent state): the logits must
    be those of the teacher-forced pass over the whole prefix."""
    bundle = _bundle(tmp_path)
    model = build_model(name, params, bundle.schema).eval()
    src, tgt = bundle.test.x[:4], bundle.test.y[:4, :-1]
    memory = model.encode(src)
    whole, attention = model.decode(memory, tgt, attention=True)
    state, steps = model.start(memory), []
    for t in range(tgt.shape[1]):
        logits, state = model.step(memory, state, tgt[:, t])
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), whole, atol=1e-5)
    width = int((src != 0).sum(1).max())
    assert attention.shape == (4, tgt.shape[1], width)
    assert torch.allclose(attention.sum(-1), torch.ones(4, tgt.shape[1]), atol=1e-5)


def test_beam_of_one_is_greedy(tmp_path):
    bundle = _bundle(tmp_path, level="bpe")
    torch.manual_seed(0)
    model = build_model("transformer-seq2seq", {"d_model": 16, "heads": 2}, bundle.schema).eval()
    src = bundle.train.x[:12]
    eos = bundle.schema.encoder["target"]["vocab"].index("<eos>")
    a = greedy(model, src, 2, eos, 15)
    b = beam_search(model, src, 2, eos, 15, beam=1, alpha=0.0)
    trim = lambda row: row[: row.index(eos) + 1] if eos in row else [t for t in row if t]  # noqa: E731
    assert [trim(r) for r in a.tolist()] == [trim(r) for r in b.tolist()]


class _Toy(torch.nn.Module):
    """After <bos> (1): "a" (3) 0.5, "b" (4) 0.4, <eos> (2) 0.1. After "a": every token equally
    likely (0.25 each), so "a"'s best continuation is worth 0.5 × 0.25 = 0.125. After "b":
    <eos> 0.9, so "b <eos>" is worth 0.36 — the best sequence, which greedy cannot find."""

    def encode(self, src):
        return {"src": src.float()}

    def start(self, memory):
        return {"last": torch.full((len(memory["src"]),), 1)}

    def step(self, memory, state, token):
        table = {
            1: [0.0, 0.0, 0.1, 0.5, 0.4],
            3: [0.0, 0.0, 0.25, 0.25, 0.25],
            4: [0.0, 0.0, 0.9, 0.05, 0.05],
        }
        probs = torch.tensor([table.get(int(t), [0, 0, 1.0, 0, 0]) for t in token]) + 1e-9
        return probs.log(), {"last": token}


def test_beam_search_finds_the_best_sequence_greedy_misses():
    src = torch.ones(2, 3, dtype=torch.long)
    assert greedy(_Toy(), src, 1, 2, 5)[0].tolist()[:2] == [3, 2]  # "a" first, then stuck
    assert beam_search(_Toy(), src, 1, 2, 5, beam=2, alpha=0.0).tolist() == [[4, 2], [4, 2]]


def test_subword_vocabularies_read_words_never_seen_whole(tmp_path):
    bundle = _bundle(tmp_path, level="bpe", shared=True)
    from deepworks.modalities.parallel.encoder import PairEncoder

    pairs = PairEncoder.from_dict(bundle.schema.encoder)
    assert pairs.target is None  # shared: one vocabulary
    ids = pairs.src.token_ids("the reddog")  # never seen: pieces, not <unk>
    assert 1 not in ids and pairs.src.detokenize(ids) == "the reddog"
    framed = pairs.encode_targets(["le chat"])[0].tolist()
    assert framed[0] == pairs.bos and pairs.eos in framed
    assert pairs.decode(framed[1:]) == "le chat"


def test_the_dictionary_baseline_learns_word_translations():
    from deepworks.tasks.translation_baselines import WordDictionary

    en, fr = zip(*PAIRS, strict=True)
    words = WordDictionary().fit(list(en), list(fr), lowercase=True)
    assert words.translate("the black cat") == "le noir chat"  # word by word, no reordering
    assert words.translate("the zebra") == "le zebra"  # unknown words are copied


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        {"name": "transformer-seq2seq", "d_model": 64, "heads": 4, "encoder_layers": 2,
         "decoder_layers": 2, "ff_dim": 128},
        {"name": "rnn-attention", "embed": 64, "hidden": 128},
    ],
    ids=["transformer", "gru"],
)  # fmt: skip
def test_a_model_learns_number_words_beyond_the_ranges_it_saw(model, tmp_path):
    """numbers-fr: test numbers come from hundreds never seen in training."""
    raw = {
        "task": "translation",
        "data": {"dataset": "numbers-fr", "limit": 2500, "batch_size": 32,
                 "tokenizer": {"level": "bpe", "max_vocab": 400}},
        "model": model,
        "train": {"epochs": 6, "optimizer": {"name": "adamw", "lr": 0.002}},
        "evaluate": {"explain": 0},
    }  # fmt: skip
    run = deepworks.run(raw, runs_dir=tmp_path, progress=False)
    test = run.metrics["test"]
    assert test["exact_match"] > 0.5 and test["chrf"] > 85
    assert test["bleu"] > test["dictionary_bleu"] + 30 and test["bleu"] > test["copy_bleu"]
    board = json.loads((run.path / "leaderboard.json").read_text())
    assert board["rows"][0]["model"].endswith("(deep)")
    assert [r["model"] for r in board["rows"][1:]] == ["dictionary", "copy"]
    assert (run.path / "attention.png").is_file()
    assert "<th>test translation</th>" in (run.path / "report.html").read_text()
    example = test["examples"][0]
    assert set(example) == {"source", "reference", "translation"}


def test_a_translation_run_translates_explains_and_evaluates(tmp_path, cli):
    path = tmp_path / "pairs.tsv"
    pd.DataFrame(PAIRS * 20, columns=["en", "fr"]).to_csv(path, sep="\t", index=False)
    config = tmp_path / "run.yaml"
    config.write_text(
        f"task: translation\ndata: {{dataset: tsv, path: '{path}', source: en, target: fr}}\n"
        "model: {name: rnn-attention, embed: 16, hidden: 32}\n"
        "train: {epochs: 12, optimizer: {name: adamw, lr: 0.01}}\nevaluate: {explain: 0}\n"
    )
    trained = cli("run", config, "--runs-dir", tmp_path / "runs")
    assert trained.code == 0, trained.err
    run = deepworks.load(trained.out.strip().splitlines()[-1])
    assert run.translate("the black dog") == "le chien noir"
    assert run.translate(["a red dog", "the cat"]) == ["un chien rouge", "le chat"]
    said = cli("translate", run.path, "--text", "a black cat", "--beam", "1")
    assert said.code == 0 and said.out.strip() == "un chat noir"
    lines = tmp_path / "in.txt"
    lines.write_text("the red cat\na dog\n")
    written = cli("translate", run.path, lines, "-o", tmp_path / "out.csv")
    assert written.code == 0, written.err
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["translation"].tolist() == ["le chat rouge", "un chien"]
    explained = cli("explain", run.path, lines, "-o", tmp_path / "why")
    assert explained.code == 0, explained.err
    assert (tmp_path / "why" / "attention_1.png").is_file()
    why = pd.read_csv(tmp_path / "why" / "explanations.csv")
    assert "chien←dog" in why["attended"][1]  # the dog is where "chien" looked
    scored = cli("evaluate", run.path, "--data", path)
    assert scored.code == 0 and "bleu" in scored.out
    predicted = run.predict(["a red dog"])
    assert predicted["translation"].tolist() == ["un chien rouge"]
    refused = cli("export", run.path)  # the RNN's decoder is not exported: said, no traceback
    assert refused.code == 2 and "rnn-attention cannot be exported" in refused.err


def test_a_killed_translation_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from deepworks import experiment
    from tests.conftest import Killed, trainer_killed_when

    path = tmp_path / "pairs.csv"
    pd.DataFrame(PAIRS * 10, columns=["en", "fr"]).to_csv(path, index=False)
    raw = {
        "task": "translation",
        "data": {"dataset": "csv", "path": str(path), "source": "en", "target": "fr",
                 "batch_size": 8, "bucket": True},  # batches of pairs of similar length
        "model": {"name": "transformer-seq2seq", "d_model": 16, "heads": 2, "ff_dim": 32},
        "train": {"epochs": 2, "checkpoint_every_steps": 2},
        "evaluate": {"explain": 0},
    }  # fmt: skip
    whole = deepworks.run(raw, runs_dir=tmp_path / "whole", threads=1, progress=False)
    monkeypatch.setattr(experiment, "Trainer", trainer_killed_when(lambda s: s.global_step == 8))
    with pytest.raises(Killed):
        deepworks.run(raw, runs_dir=tmp_path / "killed", threads=1, progress=False)
    monkeypatch.undo()
    killed = next(p for p in (tmp_path / "killed").iterdir() if p.is_dir())
    resumed = deepworks.resume(killed, threads=1, progress=False)
    a, b = load_file(whole.folder.weights), load_file(resumed.folder.weights)
    assert all(torch.equal(a[k], b[k]) for k in a)  # dropout included: bit for bit


def test_numbers_hold_out_whole_hundreds_for_test():
    from deepworks.modalities.parallel.numbers import number_pairs

    train, test = number_pairs("de")
    assert len(train) + len(test) == 10_000 and len(test) == 1_000
    assert not set(train.index // 100) & set(test.index // 100)  # no hundred in both
    assert train.loc[21, "de"] == "einundzwanzig" and train.loc[21, "english"] == "twenty-one"


@pytest.mark.skipif(shutil.which("apertium") is None, reason="needs apertium-eng-spa")
def test_reviews_are_cut_into_sentences_and_translated_once(tmp_path, monkeypatch):
    import subprocess

    from deepworks.modalities.parallel import reviews

    monkeypatch.setenv("DEEPWORKS_DATA", str(tmp_path))
    texts = pd.Series(["Great tea. I drink it every day!", "Too sweet <br/>for me"])
    frame = reviews._sentences(texts)
    assert frame.to_dict("records") == [
        {"review": 0, "english": "I drink it every day!"},  # "Great tea." is under 3 words
        {"review": 1, "english": "Too sweet for me"},
    ]
    spanish = reviews._translated(frame["english"].tolist())
    assert len(spanish) == 2 and "día" in spanish[0]
    real = subprocess.run

    def run(args, **kwargs):
        assert args[0] != "apertium", "translated twice"
        return real(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    assert reviews._translated(frame["english"].tolist()) == spanish  # from the data home


def test_an_exported_transformer_translates_as_eager_does(tmp_path):
    """ONNX of the teacher-forced pass (sources stacked with prefixes → logits), decoding in
    Python around it: logits within 1e-4 of eager, the same translations, and the card."""
    pytest.importorskip("onnxruntime")
    from deepworks.deploy.card import build_card
    from deepworks.deploy.export import ExportedModel, export_network

    path = tmp_path / "pairs.csv"
    pd.DataFrame(PAIRS * 10, columns=["en", "fr"]).to_csv(path, index=False)
    raw = {
        "task": "translation",
        "data": {"dataset": "csv", "path": str(path), "source": "en", "target": "fr",
                 "tokenizer": {"max_length": 12}},  # the graph's width: 14
        "model": {"name": "transformer-seq2seq", "d_model": 32, "heads": 2, "ff_dim": 64},
        "train": {"epochs": 15, "optimizer": {"name": "adamw", "lr": 0.01}},
        "evaluate": {"explain": 0, "baselines": False},
    }  # fmt: skip
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", threads=1, progress=False)
    x = run.encoder.encode_sources(["the red cat", "a black dog", "the cat"])
    exported = export_network(run.model, x, "onnx", tmp_path / "m.onnx")
    assert exported["parity"] < 1e-4
    runtime = run.model.around_exported(ExportedModel(tmp_path / "m.onnx"))
    longer = run.encoder.encode_sources(["the red cat the black dog a cat"])  # other lengths
    prefix = run.encoder.encode_targets(["le chat rouge le chien noir un chat"])[:, :-1]
    eager = run.model(longer, prefix)
    assert torch.allclose(runtime(longer, prefix), eager, atol=1e-4)
    assert run.task.translations(runtime, x) == run.task.translations(run.model, x)
    card = build_card(run, ["onnx"], int8=False, prune=None, threads=1)
    onnx_row = next(r for r in card["rows"] if r["format"] == "onnx")
    assert onnx_row["parity"] < 1e-4 and onnx_row["metric"] == card["rows"][0]["metric"]


def test_a_hugging_face_dataset_of_pairs_trains_with_its_own_test_split(tmp_path, cli, monkeypatch):
    """An OPUS-style dataset (a `translation` column of {language: sentence}) saved with
    save_to_disk stands in for a hub name; its test split stays the test split."""
    datasets = pytest.importorskip("datasets")
    rows = lambda pairs: {"translation": [{"en": e, "fr": f} for e, f in pairs]}  # noqa: E731
    folder = tmp_path / "opus"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(rows(PAIRS * 10)),
        "test": datasets.Dataset.from_dict(rows(PAIRS[:3])),
    }).save_to_disk(str(folder))  # fmt: skip
    raw = {
        "task": "translation",
        "data": {"dataset": "hf-pairs", "path": str(folder), "source": "en", "target": "fr"},
        "model": {"name": "transformer-seq2seq", "d_model": 16, "heads": 2, "ff_dim": 32},
        "train": {"epochs": 1},
        "evaluate": {"explain": 0, "baselines": False},
    }  # fmt: skip
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", threads=1, progress=False)
    assert run.metrics["test"]["examples"][0]["reference"] == PAIRS[0][1]
    assert len(run.metrics["test"]["examples"]) == 3  # the dataset's own test split
    raw["data"]["target"] = "fe"
    path = tmp_path / "typo.yaml"
    path.write_text(json.dumps(raw))
    assert_user_error(cli("run", path, "--runs-dir", tmp_path / "runs"), "`fe`", "fr")
    raw["data"]["path"] = "no-such-user/no-such-dataset-here"
    for module in (datasets.config, pytest.importorskip("huggingface_hub.constants")):
        monkeypatch.setattr(module, "HF_HUB_OFFLINE", True)  # no retries against the network
    path.write_text(json.dumps(raw))
    assert_user_error(cli("run", path, "--runs-dir", tmp_path / "runs"), "no-such-dataset")
