"""Audio: WAV files → fixed-length waveforms → log-mel spectrograms, computed with torch.

Clips are read as 16-bit PCM mono WAVs at the encoder's sample rate (16 kHz by default); a
stereo file, another rate or something that is not a WAV is one clear error naming the file.
Each clip is centre-padded or cut to ``duration`` seconds. Datasets keep the waveforms and
compute features per batch, so augmentation can work on the sound (noise, time shift) and on
the spectrogram (SpecAugment) alike.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.errors import DataError
from deepworks.data.datasets import Data

WAV_SUFFIXES = {".wav"}


@dataclass
class AudioSource:
    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    origin: str
    test_paths: list[Path] | None = None  # a dataset's own test set (unseen speakers)
    test_labels: np.ndarray | None = None


def read_wav(path: Path, sample_rate: int) -> np.ndarray:
    """A mono 16-bit WAV at ``sample_rate`` as float32 samples in [-1, 1]."""
    try:
        with wave.open(str(path), "rb") as f:
            channels, rate, width = f.getnchannels(), f.getframerate(), f.getsampwidth()
            frames = f.readframes(f.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable WAV file ({exc}). Replace or remove it.") from None
    if channels != 1:
        raise DataError(
            f"{path}: {channels} channels; deepworks reads mono audio. Convert it, e.g. "
            f"`ffmpeg -i {path.name} -ac 1 out.wav`"
        )
    if rate != sample_rate:
        raise DataError(
            f"{path}: {rate} Hz; this data is read at {sample_rate} Hz. Resample it (e.g. "
            f"`ffmpeg -i {path.name} -ar {sample_rate} out.wav`)"
        )
    if width != 2:
        raise DataError(f"{path}: {8 * width}-bit samples; deepworks reads 16-bit PCM WAVs")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768
    if samples.size == 0:
        raise DataError(f"{path}: the file holds no audio")
    return samples


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale (HTK)."""

    def mel(hz: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + hz / 700)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700 * (10 ** (m / 2595) - 1)

    edges = hz(np.linspace(0, mel(np.array(sample_rate / 2)), n_mels + 2))
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins - low) / (centre - low)
    down = (high - bins) / (high - centre)
    return torch.from_numpy(np.clip(np.minimum(up, down), 0, None).astype(np.float32))


@dataclass
class AudioEncoder:
    """Waveform → normalized log-mel spectrogram (1, n_mels, frames): a one-channel image."""

    sample_rate: int = 16000
    duration: float = 1.0
    n_mels: int = 40
    n_fft: int = 512
    window: int = 400  # 25 ms
    hop: int = 160  # 10 ms
    mean: float = 0.0
    std: float = 1.0
    kind: str = "audio"

    @property
    def samples(self) -> int:
        return round(self.sample_rate * self.duration)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.n_mels, 1 + self.samples // self.hop)

    def load(self, path: Path) -> torch.Tensor:
        """A file's waveform, centre-padded or cut to ``duration``."""
        x = read_wav(path, self.sample_rate)
        n = self.samples
        if len(x) >= n:
            start = (len(x) - n) // 2
            return torch.from_numpy(x[start : start + n].copy())
        out = np.zeros(n, dtype=np.float32)
        start = (n - len(x)) // 2
        out[start : start + len(x)] = x
        return torch.from_numpy(out)

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """(N, samples) → (N, 1, n_mels, frames), before normalization."""
        spec = torch.stft(
            waves,
            self.n_fft,
            self.hop,
            self.window,
            torch.hann_window(self.window, device=waves.device),
            return_complex=True,
        )
        power = spec.abs().pow(2)
        mels = mel_filterbank(self.n_mels, self.n_fft, self.sample_rate).to(waves.device) @ power
        # The floor sits near the noise of a quiet recording: digital silence (exact zeros)
        # would otherwise sit far below anything a microphone or the noise augmentation makes.
        return torch.log(mels + 1e-3).unsqueeze(1)

    def features(self, waves: torch.Tensor) -> torch.Tensor:
        return (self.log_mel(waves) - self.mean) / self.std

    def fit_stats(self, waves: torch.Tensor) -> None:
        logs = self.log_mel(waves)
        self.mean, self.std = float(logs.mean()), float(logs.std()) or 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AudioData(Data):
    """Waveforms in memory; features are computed per batch (after any augmentation)."""

    def __init__(self, waves: torch.Tensor, y: torch.Tensor, encoder: AudioEncoder) -> None:
        self.waves, self.y, self.encoder = waves, y, encoder

    def __len__(self) -> int:
        return len(self.waves)

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices)
        return self.encoder.features(self.waves[idx]), self.y[idx]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([i])
        return x[0], y[0]


def audio_bundle(src: AudioSource, cfg: Any, seed: int):
    from deepworks.core.schema import Schema
    from deepworks.data.bundle import DataBundle, split_indices

    encoder = AudioEncoder()
    waves = torch.stack([encoder.load(p) for p in src.paths])
    y = torch.from_numpy(src.labels.astype(np.int64))
    if src.test_paths is not None:  # the dataset's own test set; valid comes from the rest
        from sklearn.model_selection import train_test_split

        test_waves = torch.stack([encoder.load(p) for p in src.test_paths])
        test_y = torch.from_numpy(src.test_labels.astype(np.int64))  # type: ignore[union-attr]
        pool = np.arange(len(waves))
        if cfg.limit and cfg.limit < len(pool):  # `limit` caps train + valid, as for fine-foods
            pool, _ = train_test_split(
                pool, train_size=cfg.limit, random_state=seed, stratify=src.labels
            )
        train, valid = train_test_split(
            pool, test_size=cfg.split.valid, random_state=seed, stratify=src.labels[pool]
        )
        if cfg.train_size and cfg.train_size < len(train):
            train, _ = train_test_split(
                train, train_size=cfg.train_size, random_state=seed + 2, stratify=src.labels[train]
            )
    else:
        train, valid, test = split_indices(len(waves), src.labels, cfg, seed, src.origin)
        test_waves, test_y = waves[test], y[test]
    encoder.fit_stats(waves[train])
    schema = Schema(
        modality="audio",
        task="classification",
        input_shape=encoder.shape,
        target="label",
        classes=src.classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
    )
    return DataBundle(
        AudioData(waves[train], y[train], encoder),
        AudioData(waves[valid], y[valid], encoder),
        AudioData(test_waves, test_y, encoder),
        schema,
    )


# --------------------------------------------------------------------------- sources


def class_folders(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """WAV files in one subfolder per class."""
    from deepworks.data.bundle import natural_key

    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected one subfolder of WAV files per class)")
    classes = sorted((p.name for p in root.iterdir() if p.is_dir()), key=natural_key)
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class subfolder(s); need at least 2")
    paths, labels = [], []
    for i, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in WAV_SUFFIXES)
        if not files:
            raise DataError(f"{root / name}: class folder has no .wav files; add some or remove it")
        paths += files
        labels += [i] * len(files)
    return paths, np.asarray(labels), classes


def audio_folder(cfg: Any) -> AudioSource:
    from deepworks.data.sources import _need_path

    root = _need_path(cfg, "folder of WAV files (one subfolder per class)")
    paths, labels, classes = class_folders(root)
    return AudioSource(paths, labels, classes, str(root))


def audio_table(frame: Any, column: str, target: str, origin: Path) -> AudioSource:
    """A table of (path, label) rows; relative paths are relative to the table's folder."""
    from deepworks.data.bundle import _encode_labels

    if frame[column].isna().any():
        row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
        raise DataError(f"{origin}: column `{column}` is empty in row {row + 2}")
    paths = [Path(p) if Path(p).is_absolute() else origin.parent / p for p in frame[column]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{origin}: {len(missing)} audio file(s) not found, first {missing[0]}")
    labels, classes = _encode_labels(frame[target].to_numpy(), str(origin), target)
    return AudioSource(paths, labels, classes, str(origin))


# ------------------------------------------------------------------ spoken digits (made)

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ESPEAK_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd"]
ESPEAK_VARIANTS = ["m1", "m3", "m5", "m7", "f1", "f2", "f4", "klatt", "klatt3", "adam", "linda"]
FLITE_VOICES = ["kal", "awb", "rms", "slt"]


@dataclass
class Voice:
    engine: str  # espeak-ng | flite
    name: str

    @property
    def id(self) -> str:
        return f"{self.engine}-{self.name}".replace("+", "_")


def voices() -> list[Voice]:
    out = [Voice("espeak-ng", f"{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    return out + [Voice("flite", v) for v in FLITE_VOICES]


def test_voice(i: int) -> bool:
    """Every fifth voice speaks only in the test split: speakers never heard in training."""
    return i % 5 == 2


@dataclass
class SpokenDigits:
    """Synthesize spoken digits with espeak-ng and flite: many voices, two speeds, two pitches."""

    root: Path
    speeds: list[int] = field(default_factory=lambda: [130, 175])
    pitches: list[int] = field(default_factory=lambda: [35, 65])

    def make(self, which: list[Voice] | None = None, progress: bool = True) -> int:
        import shutil
        import subprocess
        import tempfile

        for tool in ("espeak-ng", "flite"):
            if shutil.which(tool) is None:
                raise DataError(
                    f"spoken-digits needs `{tool}`: `apt-get install espeak-ng flite` "
                    "(make install does this where it may)"
                )
        which = which or voices()
        jobs = []
        for i, voice in enumerate(which):
            split = "test" if test_voice(i) else "train"
            for digit, word in enumerate(DIGITS):
                for speed in self.speeds:
                    for pitch in self.pitches:
                        out = self.root / split / str(digit) / f"{voice.id}_{speed}_{pitch}.wav"
                        jobs.append((voice, word, speed, pitch, out))
        from rich.progress import track

        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            for voice, word, speed, pitch, out in track(
                jobs, description="synthesizing", disable=not progress
            ):
                if out.exists():
                    continue
                if voice.engine == "espeak-ng":
                    cmd = ["espeak-ng", "-v", voice.name, "-s", str(speed), "-p", str(pitch)]
                    cmd += ["-w", str(raw), word]
                else:  # flite has no pitch control; speed via duration stretch
                    stretch = f"{130 / speed:.2f}"
                    cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}"]
                    cmd += ["-t", word, "-o", str(raw)]
                subprocess.run(cmd, check=True, capture_output=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                _write_16k(raw, out)
        return len(jobs)


def _write_16k(source: Path, target: Path, rate: int = 16000) -> None:
    """Resample a mono WAV to 16 kHz 16-bit (polyphase filter)."""
    from scipy.signal import resample_poly

    with wave.open(str(source), "rb") as f:
        src_rate = f.getframerate()
        x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32)
    if src_rate != rate:
        g = math.gcd(src_rate, rate)
        x = resample_poly(x, rate // g, src_rate // g)
    with wave.open(str(target), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def data_home() -> Path:
    import os

    return Path(os.environ.get("DEEPWORKS_DATA", Path.home() / ".cache" / "deepworks"))


def spoken_digits(cfg: Any) -> AudioSource:
    """Built-in spoken digits, made on first use (or by `deepworks datasets make`)."""
    root = data_home() / "spoken-digits"
    if not (root / "test").is_dir():
        SpokenDigits(root).make()
    paths, labels, classes = class_folders(root / "train")
    test_paths, test_labels, _ = class_folders(root / "test")
    return AudioSource(paths, labels, classes, "spoken-digits", test_paths, test_labels)
