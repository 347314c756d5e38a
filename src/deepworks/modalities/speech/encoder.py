"""Speech: WAV clips of any length (up to `data.max_clip_seconds`) with their transcripts.

The sound is featurized as audio's log-mel spectrogram, whole: a batch of clips is padded with
silence to its longest, never cut. Transcripts are normalized (lowercase, punctuation but the
apostrophe removed, spaces collapsed) and written as characters over an alphabet fit on the
training transcripts; id 0 is CTC's blank (and pads the target rows).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from deepworks.core.errors import DataError
from deepworks.data.datasets import Data
from deepworks.data.encoders import register_encoder
from deepworks.data.folders import batched, file_paths
from deepworks.modalities.audio.encoder import WAV_SUFFIXES, AudioEncoder, read_wav

BLANK = "<blank>"


def normalize(text: str) -> str:
    """A transcript as it is scored: lowercase, no punctuation but apostrophes, single spaces
    (the usual normalization of WER)."""
    text = unicodedata.normalize("NFKC", str(text)).lower().replace("’", "'")
    kept = (c if c == "'" or not unicodedata.category(c).startswith("P") else " " for c in text)
    return " ".join("".join(kept).split())


@register_encoder("speech")
@dataclass
class SpeechEncoder(AudioEncoder):
    """Clips → log-mel spectrograms (1, n_mels, frames) of each clip's own length; text ↔
    character ids."""

    alphabet: list[str] = field(default_factory=list)  # index 0 is the blank
    words: list[str] = field(default_factory=list)  # the training transcripts' (beam search)
    waveform: bool = False  # the model reads the waveform itself (wav2vec2), not log-mel
    kind: str = "speech"

    @classmethod
    def fit(
        cls, transcripts: Sequence[str], max_seconds: float, waveform: bool = False
    ) -> SpeechEncoder:
        texts = [normalize(t) for t in transcripts]
        chars = sorted({" ", *(c for t in texts for c in t)})  # the space: words' boundary
        words = sorted({w for t in texts for w in t.split()})
        return cls(
            alphabet=[BLANK, *chars], words=words, max_seconds=max_seconds, waveform=waveform
        )

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame of the acoustic models (hop × their time stride of 2)."""
        return 2 * self.hop / self.sample_rate

    @property
    def shape(self) -> tuple[int, int, int]:  # frames vary: one second's shown
        if self.waveform:
            return (1, 1, self.sample_rate)
        return (1, self.n_mels, 1 + self.sample_rate // self.hop)

    def load_int16(self, path: Path) -> torch.Tensor:
        """A clip's whole waveform, kept as 16-bit samples (half the memory of floats)."""
        x = read_wav(path, self.sample_rate, self.max_seconds)
        return torch.from_numpy(np.round(x * 32768).astype(np.int16))

    def featurize(self, waves: Sequence[torch.Tensor]) -> torch.Tensor:
        """Waveforms (int16 or float) → (N, 1, n_mels, frames) features, padded with silence;
        or, for a model of the waveform, each clip scaled to zero mean and unit variance (as
        wav2vec2 was pretrained) as (N, 1, 1, samples)."""
        floats = [w.float() / 32768 if w.dtype == torch.int16 else w for w in waves]
        if self.waveform:
            scaled = [(w - w.mean()) / (w.std(unbiased=False) + 1e-7) for w in floats]
            return pad_sequence(scaled, batch_first=True)[:, None, None]
        return self.features(pad_sequence(floats, batch_first=True))

    def fit_clip_stats(self, waves: Sequence[torch.Tensor]) -> None:
        """Normalization from the clips' own frames (no padding counted)."""
        logs = torch.cat([self.log_mel(w.float()[None] / 32768).flatten() for w in waves])
        self.mean, self.std = float(logs.mean()), float(logs.std()) or 1.0

    # -- text ---------------------------------------------------------------------------
    def unknown_characters(self, texts: Sequence[str]) -> list[str]:
        known = set(self.alphabet)
        return sorted({c for t in texts for c in normalize(t)} - known)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, longest) character ids, 0-padded; characters outside the alphabet are left out."""
        index = {c: i for i, c in enumerate(self.alphabet)}
        rows = [torch.tensor([index[c] for c in normalize(t) if c in index]) for t in texts]
        ids = pad_sequence([r.long() for r in rows], batch_first=True)
        return ids if ids.shape[1] else torch.zeros(len(texts), 1, dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> str:
        """Character ids (blanks and padding skipped) → normalized text."""
        return " ".join("".join(self.alphabet[i] for i in ids if i > 0).split())

    # -- new inputs ---------------------------------------------------------------------
    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        """WAV files (a file, a folder, a list of paths) → features, each batch padded to its
        longest clip."""
        clips = file_paths(inputs, WAV_SUFFIXES, "audio")
        if clips is None:
            raise DataError("give a WAV file, a folder of them, or a list of their paths")
        encode = lambda chunk: self.featurize([self.load_int16(p) for p in chunk])  # noqa: E731
        return [str(p) for p in clips], batched(clips, size, encode)

    def labelled(self, path: Path, schema: Any) -> SpeechData:
        """A transcripts table (CSV / JSONL with `path` and `text`) or a folder of clips with
        a .txt transcript beside each."""
        from deepworks.modalities.speech.transcripts import read_transcripts

        frame = read_transcripts(path)
        return SpeechData([self.load_int16(Path(p)) for p in frame["path"]], frame["text"], self)


class SpeechData(Data):
    """Clips as int16 waveforms in memory and their transcripts; features are computed per
    batch (after any augmentation), padded to the batch's longest clip."""

    def __init__(self, waves: list[torch.Tensor], texts: list[str], encoder: SpeechEncoder):
        self.waves, self.texts, self.encoder = waves, list(texts), encoder
        self.y = encoder.encode_texts(texts)

    def __len__(self) -> int:
        return len(self.waves)

    def targets(self, idx: torch.Tensor) -> torch.Tensor:
        y = self.y[idx]
        return y[:, : max(int((y != 0).sum(1).max()), 1)]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices)
        return self.encoder.featurize([self.waves[i] for i in idx.tolist()]), self.targets(idx)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([i])
        return x[0], y[0]
