"""The traditional speech recognizer speech recognition is scored beside: pocketsphinx (CMU
Sphinx), a hidden-Markov-model recognizer with the US-English acoustic model, dictionary and
trigram language model it ships — what one would use without training anything."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from deepworks.data.sources import data_home

log = logging.getLogger("deepworks")


@functools.cache
def _decoder(sample_rate: int):
    """One recognizer per worker process: loading its models is the slow part."""
    from pocketsphinx import Decoder

    return Decoder(samprate=sample_rate, loglevel="FATAL")


def _decode(paths: list[str], sample_rate: int) -> list[str]:
    decoder = _decoder(sample_rate)
    out = []
    for path in paths:
        with wave.open(path, "rb") as f:
            audio = f.readframes(f.getnframes())
        decoder.start_utt()
        decoder.process_raw(audio, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        out.append(hypothesis.hypstr if hypothesis is not None else "")
    return out


def pocketsphinx_transcripts(
    paths: list[str], sample_rate: int, workers: int = 2
) -> list[str] | None:
    """pocketsphinx's transcript of each clip (16-bit mono WAVs), decoded by ``workers``
    processes, or read from the cache when these very files were decoded before; None when
    pocketsphinx is not installed (the leaderboard says so)."""
    try:
        version = importlib.metadata.version("pocketsphinx")
    except importlib.metadata.PackageNotFoundError:
        log.warning("pocketsphinx is not installed: pip install 'deepworks[speech]' to score it")
        return None
    cache = _cache_file(paths, sample_rate, version)
    if cache.is_file():
        return json.loads(cache.read_text())
    out = _decode_all(paths, sample_rate, workers)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out))
    except OSError:  # a cache that cannot be written costs time, not the run
        pass
    return out


def _cache_file(paths: list[str], sample_rate: int, version: str) -> Path:
    """Where the transcripts of exactly these files (paths, sizes, modification times) live."""
    digest = hashlib.sha256(f"{version} {sample_rate}".encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return data_home() / "cache" / "pocketsphinx" / f"{digest.hexdigest()[:24]}.json"


def _decode_all(paths: list[str], sample_rate: int, workers: int) -> list[str]:
    """Chunks of clips decoded by ``workers`` processes, with a progress bar and ETA on a
    terminal (pocketsphinx takes about a third of a second a clip)."""
    import multiprocessing
    import sys

    from rich.progress import track

    chunks = [paths[i : i + 32] for i in range(0, len(paths), 32)]
    # spawned, not forked: a fork of a process running torch's threads can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = pool.map(_decode, chunks, [sample_rate] * len(chunks))
        parts = list(track(done, total=len(chunks), description="pocketsphinx",
                           disable=not sys.stderr.isatty(), transient=True))  # fmt: skip
    return [text for part in parts for text in part]
