"""A pretrained Hugging Face encoder–decoder (T5, Marian) fine-tuned as a translation model:
tiny random models the test saves, with a tokenizer.json trained here, stand in for a folder
or a hub name (no download)."""

import pandas as pd
import pytest
import torch
import yaml

import deepworks
from deepworks.models import build_model
from tests.conftest import assert_user_error
from tests.test_translation import PAIRS

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


def save_tiny_model(folder, family: str):
    """A random model and its tokenizer as `save_pretrained` leaves them. Marian's ids differ
    from deepworks' (</s> is 0, padding last); T5's padding is 0 as deepworks' is."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    words = [w for pair in PAIRS for side in pair for w in side.split()]
    specials = ["</s>", "<unk>"] if family == "marian" else ["<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(words, trainers.WordLevelTrainer(special_tokens=specials))
    tok.add_special_tokens(["<pad>"])  # Marian's padding: the last id
    eos, pad = tok.token_to_id("</s>"), tok.token_to_id("<pad>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos)]
    )
    ids = {"pad_token_id": pad, "eos_token_id": eos, "decoder_start_token_id": pad}
    vocab = tok.get_vocab_size()
    torch.manual_seed(0)  # the random "pretrained" weights
    if family == "t5":
        config = transformers.T5Config(
            vocab_size=vocab, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, **ids
        )
        net = transformers.T5ForConditionalGeneration(config)
    else:
        config = transformers.MarianConfig(
            vocab_size=vocab, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
            decoder_ffn_dim=64, max_position_embeddings=64, scale_embedding=True, **ids,
        )  # fmt: skip
        net = transformers.MarianMTModel(config)
    net.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    return tok


def _config(tmp_path, folder, **train):
    path = tmp_path / "pairs.csv"
    pd.DataFrame(PAIRS * 10, columns=["en", "fr"]).to_csv(path, index=False)
    return {
        "task": "translation",
        "data": {"dataset": "csv", "path": str(path), "source": "en", "target": "fr",
                 "batch_size": 8},
        "model": {"name": "pretrained-seq2seq", "pretrained": str(folder)},
        "train": {"epochs": 1, "optimizer": {"name": "adamw", "lr": 0.003}, **train},
        "evaluate": {"explain": 0},
    }  # fmt: skip


@pytest.mark.parametrize("family", ["t5", "marian"])
def test_the_model_reads_its_own_ids_and_steps_as_it_reads_whole_prefixes(family, tmp_path):
    """deepworks pads with 0 and frames targets <bos> … <eos>; the model must see exactly the
    ids its tokenizer gives, and its cached step the logits of the whole-prefix pass."""
    from deepworks.catalog import load_config
    from deepworks.data.bundle import build_bundle, load_source

    tok = save_tiny_model(tmp_path / family, family)
    cfg = load_config(_config(tmp_path, tmp_path / family))
    assert cfg.data.tokenizer.level == "pretrained" and not cfg.data.tokenizer.lowercase
    bundle = build_bundle(load_source(cfg.data), "translation", cfg.data, 0)
    model = build_model("pretrained-seq2seq", cfg.model.params, bundle.schema).eval()
    src, tgt = bundle.test.x[:4], bundle.test.y[:4]
    for i, (en, fr) in enumerate(bundle.test_rows.iloc[:4].itertuples(index=False)):
        seen = model.to_hf[src[i][src[i] != 0]].tolist()
        assert seen == tok.encode(en).ids  # words, then </s>
        written = model.to_hf[tgt[i][tgt[i] != 0]].tolist()
        assert written == [model.net.config.decoder_start_token_id, *tok.encode(fr).ids]
    memory = model.encode(src)
    whole, attention = model.decode(memory, tgt[:, :-1], attention=True)
    state, steps = model.start(memory), []
    for t in range(tgt.shape[1] - 1):
        logits, state = model.step(memory, state, tgt[:, t])
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), whole, atol=1e-5)
    assert torch.allclose(attention.sum(-1), torch.ones(attention.shape[:2]), atol=1e-5)


def test_a_fine_tuned_pretrained_model_translates_after_reloading(tmp_path, cli):
    save_tiny_model(tmp_path / "marian", "marian")
    raw = _config(tmp_path, tmp_path / "marian", epochs=40)
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", threads=1, progress=False)
    test = run.metrics["test"]
    assert test["exact_match"] == 1.0 > test["dictionary_exact_match"]  # word order learned
    again = deepworks.load(run.path)  # the architecture from the folder, the weights the run's
    assert again.translate(["the black dog", "a red dog"]) == ["le chien noir", "un chien rouge"]
    assert_user_error(cli("export", run.path), "optimum")


def test_a_missing_pretrained_name_is_one_clear_error(tmp_path, cli):
    raw = _config(tmp_path, "")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert_user_error(cli("run", path, "--runs-dir", tmp_path / "runs"), "needs `pretrained:`")
