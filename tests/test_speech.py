"""Speech recognition: transcripts read with clear errors, CTC decoding (greedy and a beam over
words), the spoken-sentences grammar, and the life of a speech run: it learns, transcribes,
evaluates, exports with parity and resumes bit for bit."""

import shutil
import wave

import numpy as np
import pandas as pd
import pytest
import torch

import deepworks
from deepworks.modalities.speech.encoder import SpeechEncoder, normalize
from deepworks.tasks.ctc import LexiconBeam, greedy_words
from tests.conftest import assert_user_error

needs_espeak = pytest.mark.skipif(
    not shutil.which("espeak-ng"), reason="espeak-ng speaks the test clips (make install adds it)"
)
ALPHABET = ["<blank>", " ", "e", "n", "o", "t", "w"]


def _emissions(path: list[int], vocab: int = len(ALPHABET)) -> torch.Tensor:
    """(1, T, V) log-probabilities that put nearly all mass on ``path``'s class per frame."""
    scores = torch.full((1, len(path), vocab), -8.0)
    scores[0, torch.arange(len(path)), torch.tensor(path)] = 0.0
    return scores.log_softmax(-1)


def test_greedy_decoding_of_a_hand_made_emission_matrix():
    # o o _ n e e | t _ w o _ : repeats merge, blanks split "oo" only when they sit between
    path = [4, 4, 0, 3, 2, 2, 1, 5, 0, 6, 4, 0]
    decoded = greedy_words(_emissions(path), ALPHABET)[0]
    assert decoded.ids == [4, 3, 2, 1, 5, 6, 4]
    assert decoded.words == [("one", 0, 5), ("two", 7, 10)]  # each word's first and last frame
    doubled = [4, 0, 4, 3, 2]  # a blank between two o's writes both
    assert greedy_words(_emissions(doubled), ALPHABET)[0].ids == [4, 4, 3, 2]


def test_a_beam_over_words_reads_a_misspelt_path_as_the_word_it_is_closest_to():
    pytest.importorskip("flashlight.lib.text.decoder")
    scores = _emissions([4, 3, 2, 1, 5, 6, 4]).clone()
    scores[0, 2, 6], scores[0, 2, 2] = -0.1, -2.5  # the best single path says "onw"
    scores = scores.log_softmax(-1)
    speech = SpeechEncoder(alphabet=ALPHABET)
    assert speech.decode(greedy_words(scores, ALPHABET)[0].ids) == "onw two"
    beam = LexiconBeam(ALPHABET, ["one", "two", "ten"], beam=8)(scores)[0]
    assert speech.decode(beam.ids) == "one two"
    assert [w for w, _, _ in beam.words] == ["one", "two"]


def test_transcripts_are_normalized_and_characters_beyond_the_alphabet_left_out():
    assert normalize("  Turn the Kitchen-lights OFF!  ") == "turn the kitchen lights off"
    assert normalize("Don’t stop.") == "don't stop"
    encoder = SpeechEncoder.fit(["one two", "two ten"], 10.0)
    assert encoder.alphabet == ["<blank>", " ", "e", "n", "o", "t", "w"]
    assert encoder.words == ["one", "ten", "two"]
    one_word = SpeechEncoder.fit(["yes", "no"], 10.0)  # single words: the beam's boundary too
    assert one_word.alphabet[:2] == ["<blank>", " "] and one_word.words == ["no", "yes"]
    assert encoder.unknown_characters(["one zero"]) == ["r", "z"]
    ids = encoder.encode_texts(["one zero", "two"])
    assert encoder.decode(ids[0].tolist()) == "one eo" and ids[1, 3:].eq(0).all()


def test_the_command_grammar_and_digit_strings_are_a_function_of_the_voice():
    from deepworks.modalities.speech.sentences import number_words, sentences

    assert sentences(3) == sentences(3) and sentences(3) != sentences(4)
    kinds = [k for k, _ in sentences(0)]
    assert kinds.count("digits") == kinds.count("command") == 40
    digits = [t.split() for k, t in sentences(0) if k == "digits"]
    assert all(3 <= len(d) <= 8 for d in digits)
    assert number_words(45) == "forty five" and number_words(13) == "thirteen"


def _wav(path, samples, rate=16000, channels=1, width=2):
    data = (np.clip(samples, -1, 1) * (2 ** (8 * width - 1) - 1)).astype(f"<i{width}")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(np.repeat(data, channels).tobytes())


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Short digit strings spoken by six espeak-ng voices (two only in test), as a table."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng speaks the test clips (make install adds it)")
    from deepworks.modalities.audio.spoken_digits import Voice

    root = tmp_path_factory.mktemp("speech")
    rng = np.random.default_rng(0)
    words = ["one", "two", "three"]
    rows = []
    for v, voice in enumerate(["en-us+m1", "en-us+f2", "en-gb+m3", "en+klatt", "en-us+m3",
                               "en-gb+f1"]):  # fmt: skip
        for n in range(30):
            text = " ".join(rng.choice(words, rng.integers(1, 4)))
            path = root / f"{v}_{n}.wav"
            Voice("espeak-ng", voice).say(text, speed=160, pitch=50, out=path)
            rows.append({"path": path.name, "text": text, "voice": voice})
    pd.DataFrame(rows).to_csv(root / "transcripts.csv", index=False)
    return root


def _config(root, **data):
    return {
        "task": "speech-recognition",
        "data": {"dataset": "csv", "path": str(root / "transcripts.csv"), "audio": "path",
                 "transcript": "text", "batch_size": 16, **data},
        "model": {"name": "crnn-ctc", "channels": 8, "hidden": 32, "layers": 1},
        "train": {"epochs": 20, "optimizer": {"name": "adamw", "lr": 0.01}},
    }  # fmt: skip


@needs_espeak
@pytest.mark.slow
def test_a_speech_run_learns_transcribes_evaluates_and_exports(clips, tmp_path, cli):
    pytest.importorskip("onnxruntime")
    from deepworks.deploy.export import export_network

    run = deepworks.run(_config(clips), runs_dir=tmp_path / "runs", threads=2, progress=False)
    test = run.metrics["test"]
    assert test["cer"] < 0.5 and test["wer"] < 0.8  # writing nothing scores 1.0 on both
    assert test["wer"] <= test["greedy_wer"] + 1e-9  # the beam over known words can only help
    assert test["pocketsphinx_wer"] >= 0 and test["pocketsphinx_cer"] >= 0  # on the same clips
    assert set(run.leaderboard["model"]) == {"crnn-ctc (deep)", "pocketsphinx"}
    assert set(test["groups"]["voice"]) <= {"en-us+m1", "en-us+f2", "en-gb+m3", "en+klatt",
                                            "en-us+m3", "en-gb+f1"}  # fmt: skip
    assert "<th>test beam</th>" in (run.path / "report.html").read_text()  # clips as written
    assert (run.path / "saliency.png").is_file()
    wavs = sorted(clips.glob("*_*.wav"))[:5]
    said = run.transcribe(wavs, timestamps=True)
    assert list(said.columns) == ["input", "transcript", "words"] and len(said) == 5
    assert run.transcribe(str(wavs[0])) == said["transcript"][0]  # one clip: its text
    out = cli("transcribe", run.path, str(wavs[0]), "-o", str(tmp_path / "t.csv"))
    assert out.code == 0
    assert pd.read_csv(tmp_path / "t.csv")["transcript"][0] == said["transcript"][0]
    again = run.evaluate(clips / "transcripts.csv")
    assert again["wer"] < 0.8 and again["cer"] < 0.5  # its own clips, training ones among them
    from fastapi.testclient import TestClient

    from deepworks.deploy.server import create_app

    with TestClient(create_app(run)) as client:  # a WAV upload in, its transcript out
        upload = {"file": ("a.wav", wavs[0].read_bytes(), "audio/wav")}
        answer = client.post("/predict", files=upload)
        assert answer.status_code == 200 and answer.json()["transcript"] == said["transcript"][0]
        broken = client.post("/predict", files={"file": ("x.wav", b"RIFF?", "audio/wav")})
        assert broken.status_code == 422 and "not a readable WAV" in broken.text
    files = run.explain_to(wavs[:2], tmp_path / "why")  # saliency of each written word
    why = pd.read_csv(tmp_path / "why" / "explanations.csv")
    greedy = run.transcribe(wavs[:2], beam=0, timestamps=True)  # what the saliency explains
    assert len(files) == 3 and list(why["transcript"]) == list(greedy["transcript"])
    words = greedy["words"][0].split()
    assert len(why["peaks"][0].split()) == len(words)
    for peak, word in zip(why["peaks"][0].split(), words, strict=True):
        at, (start, end) = float(peak.split("@")[1][:-1]), word.split("@")[1].split("-")
        assert float(start) - 0.5 <= at <= float(end) + 0.5  # evidence near where it was said
    x = run.encoder.featurize([run.encoder.load_int16(p) for p in wavs[:3]])
    exported = export_network(run.model, x, "onnx", tmp_path / "m.onnx")
    assert exported["parity"] < 1e-4
    from deepworks.deploy.export import ExportedModel

    longer = run.encoder.featurize([run.encoder.load_int16(wavs[3])])  # another length
    runtime = run.model.around_exported(ExportedModel(tmp_path / "m.onnx"))
    assert torch.allclose(runtime(longer), run.model(longer), atol=1e-4)


@needs_espeak
def test_a_killed_speech_run_resumes_to_the_same_weights(clips, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from deepworks import experiment
    from tests.conftest import Killed, trainer_killed_when

    raw = _config(clips, augment={"noise": 20, "shift": 0.1, "specaugment": True}, limit=60)
    raw["train"] |= {"epochs": 2, "checkpoint_every_steps": 2}
    raw["evaluate"] = {"baselines": False}
    whole = deepworks.run(raw, runs_dir=tmp_path / "whole", threads=1, progress=False)
    assert "pocketsphinx_wer" not in whole.metrics["test"]  # evaluate.baselines: false
    monkeypatch.setattr(experiment, "Trainer", trainer_killed_when(lambda s: s.global_step == 4))
    with pytest.raises(Killed):
        deepworks.run(raw, runs_dir=tmp_path / "killed", threads=1, progress=False)
    monkeypatch.undo()
    killed = next(p for p in (tmp_path / "killed").iterdir() if p.is_dir())
    resumed = deepworks.resume(killed, threads=1, progress=False)
    a, b = load_file(whole.folder.weights), load_file(resumed.folder.weights)
    assert all(torch.equal(a[k], b[k]) for k in a)  # augmentation draws included


def _run_on(root, rows=None, **data):
    """`deepworks run` on a transcripts table of ``rows`` (or on ``data`` alone)."""
    import yaml

    if rows is not None:
        pd.DataFrame(rows).to_csv(root / "t.csv", index=False)
        data = {"dataset": "csv", "path": str(root / "t.csv"), "audio": "path",
                "transcript": "text", **data}  # fmt: skip
    config = {"task": "speech-recognition", "data": data, "model": {"name": "crnn-ctc"},
              "train": {"epochs": 1}}  # fmt: skip
    (root / "c.yaml").write_text(yaml.safe_dump(config))
    return ["run", str(root / "c.yaml"), "--runs-dir", str(root / "runs")]


def test_bad_transcripts_and_clips_are_one_clear_error_each(tmp_path, cli):
    tone = 0.3 * np.sin(np.linspace(0, 2000, 16000))
    _wav(tmp_path / "ok.wav", tone)
    _wav(tmp_path / "stereo.wav", tone, channels=2)
    _wav(tmp_path / "long.wav", np.zeros(16000 * 3))
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    ok = {"path": "ok.wav", "text": "one two"}
    cases = [
        ([ok, {"path": "missing.wav", "text": "three"}], ("name no clip that exists", "row 3")),
        ([ok, {"path": "ok.wav", "text": "  "}], ("transcript in row 3", "is empty")),
        ([ok, {"path": "stereo.wav", "text": "a"}], ("stereo.wav", "2 channels", "ffmpeg")),
        ([ok, {"path": "junk.wav", "text": "a"}], ("junk.wav", "not a readable WAV")),
    ]
    for rows, fragments in cases:
        assert_user_error(cli(*_run_on(tmp_path, rows)), *fragments)
    too_long = _run_on(tmp_path, [ok, {"path": "long.wav", "text": "a"}], max_clip_seconds=2)
    assert_user_error(cli(*too_long), "long.wav", "over the limit of 2 s")
    wrong_column = _run_on(tmp_path, [ok], transcript="txt")
    assert_user_error(cli(*wrong_column), "no column `txt`", "Did you mean `text`")
    (tmp_path / "folder").mkdir()
    shutil.copy(tmp_path / "ok.wav", tmp_path / "folder" / "a.wav")
    no_txt = _run_on(tmp_path, dataset="speech-folder", path=str(tmp_path / "folder"))
    assert_user_error(cli(*no_txt), "a.wav: no transcript beside it", "a.txt")


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    """A tiny random wav2vec2 saved as a pretrained folder (no download)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16, 16), conv_stride=(5, 8, 8), conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, vocab_size=8,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("w2v") / "tiny-wav2vec2"
    torch.manual_seed(0)
    transformers.Wav2Vec2Model(config).save_pretrained(folder)
    return folder


@needs_espeak
def test_a_pretrained_wav2vec2_fine_tunes_on_the_waveform(clips, tiny_wav2vec2, tmp_path, cli):
    raw = _config(clips, limit=60)
    raw["model"] = {"name": "wav2vec2-ctc", "pretrained": str(tiny_wav2vec2)}
    raw["train"] = {"epochs": 2, "optimizer": {"name": "adamw", "lr": 0.001}}
    raw["evaluate"] = {"baselines": False}
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", threads=1, progress=False)
    assert run.schema.encoder["waveform"] and run.schema.input_shape == (1, 1, 16000)
    history = run.history()
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns something
    before = load_weights(tiny_wav2vec2)
    after = dict(run.model.body.named_parameters())
    conv = "feature_extractor.conv_layers.0.conv.weight"
    assert torch.equal(before[conv], after[conv])  # the feature encoder stays frozen
    wavs = sorted(clips.glob("*_*.wav"))[:3]
    again = deepworks.load(run.path)  # rebuilt from the run alone: its own weights
    assert list(again.transcribe(wavs)["transcript"]) == list(run.transcribe(wavs)["transcript"])
    raw["data"]["augment"] = {"specaugment": True}
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    refused = cli("run", str(tmp_path / "c.yaml"), "--runs-dir", str(tmp_path / "r"))
    assert_user_error(refused, "specaugment masks a spectrogram", "waveform")


def load_weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@needs_espeak
def test_characters_the_training_transcripts_lack_are_reported_not_refused(clips, caplog):
    from deepworks.config import DataConfig
    from deepworks.modalities.speech.sources import TranscribedClips, speech_bundle

    frame = pd.read_csv(clips / "transcripts.csv")
    frame["path"] = [str(clips / p) for p in frame["path"]]
    test = frame.iloc[:4].assign(text=["four!", "one", "Two", "zero"])
    source = TranscribedClips(frame.iloc[4:].reset_index(drop=True), "clips", test)
    with caplog.at_level("WARNING", logger="deepworks"):
        bundle = speech_bundle(source, "speech-recognition", DataConfig(dataset="csv"), 0)
    assert "test transcripts use characters no training transcript has (f u z)" in caplog.text
    assert bundle.test.encoder.decode(bundle.test.y[0].tolist()) == "or"  # what it can write
    assert len(bundle.train) + len(bundle.valid) == len(frame) - 4 and len(bundle.test) == 4
