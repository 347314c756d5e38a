"""Audio: WAV reading with clear errors, log-mel features in torch, synthesized spoken digits,
keyword spotting on voices never heard in training."""

import shutil
import wave

import numpy as np
import pytest
import torch

import deepworks
from deepworks.config import AugmentConfig
from deepworks.core.errors import DataError
from deepworks.core.schema import Schema
from deepworks.data.augment import augmented
from deepworks.modalities.audio.encoder import AudioData, AudioEncoder, read_wav
from deepworks.modalities.audio.spoken_digits import SpokenDigits, voices
from tests.conftest import assert_user_error

needs_tts = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("flite")),
    reason="espeak-ng and flite make the spoken digits (make install adds them)",
)


def _wav(path, samples, rate=16000, channels=1):
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        data = np.repeat(data[:, None], 2, axis=1)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(data.tobytes())


def _tone(hz, seconds=0.5, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * hz * t)


def test_a_tone_lights_up_the_mel_band_of_its_frequency():
    enc = AudioEncoder()
    low = enc.log_mel(torch.from_numpy(_tone(300, 1.0)).float()[None])[0, 0].mean(1)
    high = enc.log_mel(torch.from_numpy(_tone(3000, 1.0)).float()[None])[0, 0].mean(1)
    assert enc.shape == (1, 40, 101)  # 1 s at 16 kHz: 40 mel bands × 101 frames of 10 ms
    assert int(low.argmax()) < int(high.argmax())  # higher pitch, higher mel band


def test_clips_are_centred_and_padded_or_cut_to_the_duration(tmp_path):
    enc = AudioEncoder(duration=0.5)
    _wav(tmp_path / "short.wav", np.full(1000, 0.5))
    _wav(tmp_path / "long.wav", np.linspace(-1, 1, 16000))
    short, long = enc.load(tmp_path / "short.wav"), enc.load(tmp_path / "long.wav")
    assert short.shape == long.shape == (8000,)
    assert short[:3500].abs().max() == 0 and short[4000] > 0.49  # silence around the sound
    assert abs(float(long[4000])) < 0.01  # the middle of the long clip


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not audio"), "not a readable WAV file"),
        (lambda p: _wav(p, _tone(440), channels=2), "2 channels; deepworks reads mono"),
        (lambda p: _wav(p, _tone(440, rate=8000), rate=8000), "8000 Hz; this data is read at"),
    ],
)
def test_bad_wavs_get_one_clear_message(tmp_path, make, message):
    make(tmp_path / "bad.wav")
    with pytest.raises(DataError, match=message):
        read_wav(tmp_path / "bad.wav", 16000)


def test_a_bad_clip_in_an_audio_folder_stops_the_run_with_its_name(tmp_path, cli):
    for label in ("yes", "no"):
        (tmp_path / "clips" / label).mkdir(parents=True)
        for i in range(3):
            _wav(tmp_path / "clips" / label / f"{i}.wav", _tone(300 + 100 * i))
    _wav(tmp_path / "clips" / "no" / "stereo.wav", _tone(500), channels=2)
    config = tmp_path / "a.yaml"
    config.write_text(
        f"data: {{dataset: audio-folder, path: {tmp_path / 'clips'}}}\nmodel: {{name: cnn}}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "stereo.wav", "mono")


def test_audio_augmentation_is_seeded_and_keeps_shapes():
    enc = AudioEncoder()
    waves = torch.from_numpy(np.stack([_tone(300 + 50 * i, 1.0) for i in range(4)])).float()
    data = AudioData(waves, torch.arange(4), enc)
    schema = Schema("audio", "classification", enc.shape, "label", classes=list("abcd"))
    cfg = AugmentConfig(noise=10, shift=0.1, specaugment=True)
    a, b = augmented(data, cfg, schema, 0), augmented(data, cfg, schema, 0)
    x, y = a.__getitems__([0, 1, 2, 3])
    assert torch.equal(x, b.__getitems__([0, 1, 2, 3])[0]) and torch.equal(y, torch.arange(4))
    plain, _ = data.__getitems__([0, 1, 2, 3])
    assert x.shape == plain.shape and not torch.allclose(x, plain)
    assert ((x == 0).all(dim=2).any(dim=-1)).all()  # SpecAugment silenced whole frames


@pytest.fixture(scope="module")
def small_spoken_digits(tmp_path_factory):
    """Ten voices (two of them only in test), two speeds × two pitches each."""
    root = tmp_path_factory.mktemp("spoken")
    SpokenDigits(root).make(voices()[:8] + voices()[-2:], progress=False)
    return root


@needs_tts
def test_spoken_digits_keep_test_voices_apart(small_spoken_digits):
    def speakers(split):
        return {p.name.rsplit("_", 2)[0] for p in (small_spoken_digits / split).rglob("*.wav")}

    train, test = speakers("train"), speakers("test")
    assert len(train) == 8 and len(test) == 2 and not train & test
    assert len(list((small_spoken_digits / "test" / "7").glob("*.wav"))) == 2 * 4
    samples = read_wav(next((small_spoken_digits / "train" / "3").glob("*.wav")), 16000)
    assert 0.2 < len(samples) / 16000 < 1.5  # a spoken word, at 16 kHz mono


@needs_tts
@pytest.mark.slow
def test_keyword_spotting_recognizes_unseen_voices(small_spoken_digits, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPWORKS_DATA", str(tmp_path / "data"))
    shutil.copytree(small_spoken_digits, tmp_path / "data" / "spoken-digits")
    raw = {
        "data": {"dataset": "spoken-digits", "batch_size": 16, "augment": {"shift": 0.05}},
        "model": {"name": "cnn", "channels": [16, 32], "hidden": 64},
        "train": {"epochs": 12, "optimizer": {"name": "adamw", "lr": 0.003}},
    }
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    assert run.metrics["test"]["accuracy"] >= 0.6  # 2 unseen voices, 32 clips per voice only
    clips = sorted((tmp_path / "data" / "spoken-digits" / "test" / "4").glob("*.wav"))
    out = run.predict(clips)
    assert len(out) == len(clips) and set(out["prediction"]) <= {str(d) for d in range(10)}
    assert "accuracy" in run.evaluate(tmp_path / "data" / "spoken-digits" / "test")
    why = run.explain(clips[:2], ["grad-cam", "integrated-gradients"])  # spectrogram overlays
    assert why.attributions["grad-cam"].shape == (2, *run.schema.input_shape)
    assert why.delta.max() < 0.05
