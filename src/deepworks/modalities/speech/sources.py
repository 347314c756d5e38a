"""Where transcribed clips come from — a transcripts table, a folder of clips with .txt
transcripts, the built-in `spoken-sentences` — and the bundle they make."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from deepworks.config import DataConfig
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, register_builder
from deepworks.data.sources import Source, data_home, reads_tables, register_dataset
from deepworks.data.splits import split_indices, split_keeping_test
from deepworks.data.tables import need_path
from deepworks.modalities.speech.encoder import SpeechData, SpeechEncoder
from deepworks.modalities.speech.transcripts import read_transcripts, transcript_frame

pd = lazy_module("pandas")  # imported on first use: most runs read no table

log = logging.getLogger("deepworks")


@dataclass
class TranscribedClips(Source):
    modality: ClassVar[str] = "speech"
    natural_task: ClassVar[str | None] = "speech-recognition"
    frame: pd.DataFrame  # path, text, and any other columns (a speaker, a kind of sentence)
    origin: str
    test_frame: pd.DataFrame | None = None  # a corpus's own test set (voices never heard)


@reads_tables(lambda cfg: cfg.transcript is not None)
def transcript_table(frame: pd.DataFrame, cfg: DataConfig, path: Path) -> TranscribedClips:
    checked = transcript_frame(frame, path, cfg.audio or "path", str(cfg.transcript))
    return TranscribedClips(checked, str(path))


@register_dataset(
    "speech-folder",
    "speech-recognition",
    "speech",
    "a folder of WAV clips, each with a .txt transcript beside it (clip.wav + clip.txt)",
    builtin=False,
)
def speech_folder(cfg: DataConfig) -> TranscribedClips:
    root = need_path(cfg, "folder of clips with .txt transcripts")
    return TranscribedClips(read_transcripts(root), str(root))


def make_spoken_sentences() -> str:
    from deepworks.modalities.speech.sentences import make_sentences

    table = make_sentences(data_home() / "spoken-sentences")
    return f"{len(pd.read_csv(table))} clips in {table.parent}"


@register_dataset(
    "spoken-sentences",
    "speech-recognition",
    "speech",
    "digit strings and spoken commands by espeak-ng / flite voices; test voices never heard",
    make=make_spoken_sentences,
)
def spoken_sentences(cfg: DataConfig) -> TranscribedClips:
    """Made on first use (or by `deepworks datasets make spoken-sentences`)."""
    table = data_home() / "spoken-sentences" / "transcripts.csv"
    if not table.is_file():
        make_spoken_sentences()
    frame = read_transcripts(table)
    test = frame["split"] == "test"
    return TranscribedClips(
        frame[~test].reset_index(drop=True),
        "spoken-sentences",
        frame[test].reset_index(drop=True),
    )


@register_builder("speech", "speech-recognition")
def speech_bundle(src: TranscribedClips, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    """Clips split (a corpus's own test set kept), the alphabet fit on the training
    transcripts; characters the alphabet lacks in the other splits are reported."""
    reader = SpeechEncoder(max_seconds=cfg.max_clip_seconds)
    read = lambda rows: [reader.load_int16(Path(p)) for p in rows["path"]]  # noqa: E731
    frame, waves = src.frame, read(src.frame)  # every clip read first: a bad one said at once
    if src.test_frame is not None:
        train, valid = split_keeping_test(np.arange(len(frame)), None, cfg, seed, src.origin)
        test_frame, test_waves = src.test_frame, read(src.test_frame)
    else:
        train, valid, test = split_indices(len(frame), None, cfg, seed, src.origin)
        test_frame, test_waves = frame.iloc[test].reset_index(drop=True), [waves[i] for i in test]
    if cfg.train_size and cfg.train_size < len(train):
        train = np.sort(np.random.default_rng(seed + 2).permutation(train)[: cfg.train_size])
    splits = {
        "train": frame.iloc[train].reset_index(drop=True),
        "valid": frame.iloc[valid].reset_index(drop=True),
        "test": test_frame,
    }
    waveform = cfg.audio_features == "waveform"
    encoder = SpeechEncoder.fit(splits["train"]["text"].tolist(), cfg.max_clip_seconds, waveform)
    clips = {"train": [waves[i] for i in train], "valid": [waves[i] for i in valid],
             "test": test_waves}  # fmt: skip
    for name in ("valid", "test"):
        unknown = encoder.unknown_characters(splits[name]["text"].tolist())
        if unknown:
            log.warning(
                "%s: the %s transcripts use characters no training transcript has (%s); "
                "the model cannot write them",
                src.origin,
                name,
                " ".join(unknown),
            )
    data = {name: SpeechData(clips[name], rows["text"], encoder) for name, rows in splits.items()}
    encoder.fit_clip_stats(data["train"].waves[:1000])
    schema = Schema(
        modality="speech",
        task=task,
        input_shape=encoder.shape,
        target="text",
        encoder=encoder.to_dict(),
        origin=src.origin,
        outputs=len(encoder.alphabet),
    )
    bundle = DataBundle(data["train"], data["valid"], data["test"], schema)
    bundle.test_rows = splits["test"]
    bundle.raw_rows = splits
    return bundle
