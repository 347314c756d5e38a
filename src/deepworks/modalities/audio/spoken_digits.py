"""The built-in spoken digits: synthesized offline with espeak-ng and flite across many voices,
speeds and pitches; every fifth voice speaks only in the test split."""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepworks.core.errors import DataError
from deepworks.data.folders import class_folders
from deepworks.data.sources import data_home, register_dataset
from deepworks.modalities.audio.encoder import WAV_SUFFIXES
from deepworks.modalities.audio.sources import AudioSource

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

    def say(self, text: str, speed: int, pitch: int, out: Path, flite_rate: int = 130) -> None:
        """``text`` spoken at ``speed`` words a minute and ``pitch`` (0–99) into ``out``, a
        16 kHz 16-bit WAV. flite has no pitch control: its speed is a duration stretch of
        ``flite_rate`` / ``speed``."""
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            if self.engine == "espeak-ng":
                cmd = ["espeak-ng", "-v", self.name, "-s", str(speed), "-p", str(pitch)]
                cmd += ["-w", str(raw), text]
            else:
                stretch = f"{flite_rate / speed:.2f}"
                cmd = ["flite", "-voice", self.name, "--setf", f"duration_stretch={stretch}"]
                cmd += ["-t", text, "-o", str(raw)]
            subprocess.run(cmd, check=True, capture_output=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            _write_16k(raw, out)


def need_synthesizers(dataset: str) -> None:
    """espeak-ng and flite on the PATH, or one error saying how to install them."""
    import shutil

    for tool in ("espeak-ng", "flite"):
        if shutil.which(tool) is None:
            raise DataError(
                f"{dataset} needs `{tool}`: `apt-get install espeak-ng flite` "
                "(make install does this where it may)"
            )


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
        need_synthesizers("spoken-digits")
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

        for voice, word, speed, pitch, out in track(
            jobs, description="synthesizing", disable=not progress
        ):
            if not out.exists():
                voice.say(word, speed, pitch, out)
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


def make_spoken_digits() -> str:
    """Synthesize every clip now (what `deepworks datasets make spoken-digits` runs)."""
    root = data_home() / "spoken-digits"
    return f"{SpokenDigits(root).make()} clips in {root}"


@register_dataset(
    "spoken-digits",
    "classification",
    "audio",
    "spoken digits 0-9 by espeak-ng / flite voices; test voices never heard in training",
    make=make_spoken_digits,
)
def spoken_digits(cfg: Any) -> AudioSource:
    """Built-in spoken digits, made on first use (or by `deepworks datasets make`)."""
    root = data_home() / "spoken-digits"
    if not (root / "test").is_dir():
        SpokenDigits(root).make()
    paths, labels, classes = class_folders(root / "train", WAV_SUFFIXES, ".wav files")
    test_paths, test_labels, _ = class_folders(root / "test", WAV_SUFFIXES, ".wav files")
    return AudioSource(paths, labels, classes, "spoken-digits", test_paths, test_labels)
