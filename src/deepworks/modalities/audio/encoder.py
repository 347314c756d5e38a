"""Audio: WAV files → fixed-length waveforms → log-mel spectrograms, computed with torch.

Clips are read as 16-bit PCM mono WAVs at the encoder's sample rate (16 kHz by default); a
stereo file, another rate or something that is not a WAV is one clear error naming the file.
Each clip is centre-padded or cut to ``duration`` seconds. Datasets keep the waveforms and
compute features per batch, so augmentation can work on the sound (noise, time shift) and on
the spectrogram (SpecAugment) alike.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.encoder import Encoder, RequestFormat
from deepworks.core.errors import DataError
from deepworks.data.bundle import targets_for
from deepworks.data.datasets import Data, TensorData
from deepworks.data.encoders import register_encoder
from deepworks.data.folders import batched, class_folders, file_paths

WAV_SUFFIXES = {".wav"}


MAX_CLIP_SECONDS = 600.0  # `data.max_clip_seconds`: what a run's encoder keeps by default


def read_wav(path: Path, sample_rate: int, max_seconds: float = MAX_CLIP_SECONDS) -> np.ndarray:
    """A mono 16-bit WAV at ``sample_rate`` as float32 samples in [-1, 1]; a clip longer than
    ``max_seconds`` is refused from its header, before its samples are read."""
    try:
        with wave.open(str(path), "rb") as f:
            channels, rate, width = f.getnchannels(), f.getframerate(), f.getsampwidth()
            seconds = f.getnframes() / max(rate, 1)
            if seconds > max_seconds:
                raise DataError(
                    f"{path}: a clip of {seconds:,.0f} s, over the limit of {max_seconds:g} s "
                    "(`data.max_clip_seconds`); cut it, or raise the limit"
                )
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
    if len(frames) % 2:
        raise DataError(
            f"{path}: the file is cut off in the middle of a sample (truncated); re-export it, "
            f"e.g. `ffmpeg -i {path.name} -ar {sample_rate} -ac 1 out.wav`"
        )
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


@register_encoder("audio")
@dataclass
class AudioEncoder(Encoder):
    """Waveform → normalized log-mel spectrogram (1, n_mels, frames): a one-channel image."""

    inputs = "spectrogram"

    sample_rate: int = 16000
    duration: float = 1.0
    n_mels: int = 40
    n_fft: int = 512
    window: int = 400  # 25 ms
    hop: int = 160  # 10 ms
    max_seconds: float = MAX_CLIP_SECONDS  # a longer clip is refused (`data.max_clip_seconds`)
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
        x = read_wav(path, self.sample_rate, self.max_seconds)
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

    # -- new inputs --------------------------------------------------------------------
    request = RequestFormat(upload=True, help="audio file(s), multipart/form-data")

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """WAV files (a file, a folder, a list of paths) → log-mel features."""
        clips = file_paths(inputs, WAV_SUFFIXES, "audio")
        if clips is None:
            raise DataError("give a WAV file, a folder of them, or a list of their paths")

        def encode(chunk: list[Path]) -> torch.Tensor:
            return self.features(torch.stack([self.load(p) for p in chunk]))

        return [str(p) for p in clips], batched(clips, size, encode)

    def labelled(self, path: Path, schema: Any) -> TensorData:
        clips, labels, classes = class_folders(path, WAV_SUFFIXES, ".wav files")
        x = self.features(torch.stack([self.load(p) for p in clips]))
        return TensorData(x, targets_for(schema, np.asarray(classes)[labels], str(path)))

    def decode_upload(self, data: bytes, name: str | None) -> Any:
        with tempfile.NamedTemporaryFile(suffix=".wav", delete=False) as f:
            f.write(data)
        return Path(f.name)

    def request_inputs(self, items: list[Any]) -> Any:
        return list(items)

    def release(self, items: list[Any]) -> None:
        for item in items:
            Path(item).unlink(missing_ok=True)


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
