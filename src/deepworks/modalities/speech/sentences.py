"""The built-in `spoken-sentences`: utterances of several words synthesized offline with
espeak-ng and flite, for speech recognition.

Two kinds of sentence: digit strings of 3–8 digits ("four one seven two") and short commands
from a small grammar ("turn the kitchen lights off", "set a timer for twenty minutes"). Every
voice of `spoken-digits` (66 espeak-ng accent × variant pairs and 4 flite voices) reads its own
sentences, each at a drawn speed and pitch; every fifth voice speaks only in the test split,
so the test measures speakers never heard in training. The corpus is written as 16 kHz WAVs
with one `transcripts.csv` (path, text, voice, kind, split): the same layout a user's own
data may have.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deepworks.core.lazy import lazy_module
from deepworks.modalities.audio.spoken_digits import DIGITS, need_synthesizers, test_voice, voices

pd = lazy_module("pandas")  # imported on first use: most runs read no table

SENTENCES_PER_KIND = 40  # per voice: 40 digit strings and 40 commands

ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "office", "garage", "hallway"]
DEVICES = ["lights", "fan", "heater", "television", "radio"]
OPENABLE = ["door", "window", "garage door", "blinds", "curtains"]
GENRES = ["jazz", "rock", "classical", "pop", "country", "some music"]
UNITS = ["seconds", "minutes", "hours"]
DAYS = ["today", "tomorrow", "tonight", "this weekend"]
TENS = ["twenty", "thirty", "forty", "fifty"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]  # fmt: skip


def number_words(n: int) -> str:
    """1–59 in words ("twenty five")."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return TEENS[n - 10]
    tens, ones = divmod(n, 10)
    return TENS[tens - 2] + (f" {DIGITS[ones]}" if ones else "")


def command(rng: random.Random) -> str:
    """One sentence of the command grammar."""
    pick = rng.choice
    templates = [
        lambda: f"turn the {pick(ROOMS)} {pick(DEVICES)} {pick(['on', 'off'])}",
        lambda: f"turn {pick(['on', 'off'])} the {pick(DEVICES)}",
        lambda: f"set a timer for {number_words(rng.randint(2, 59))} {pick(UNITS)}",
        lambda: f"set the temperature to {number_words(rng.randint(15, 29))} degrees",
        lambda: f"{pick(['open', 'close'])} the {pick(OPENABLE)}",
        lambda: f"play {pick(GENRES)} in the {pick(ROOMS)}",
        lambda: f"what is the weather {pick(DAYS)}",
        lambda: f"remind me to call {pick(['mom', 'dad', 'the doctor', 'anna', 'peter'])}",
        lambda: f"{pick(['stop', 'pause', 'resume'])} the {pick(['music', 'timer', 'alarm'])}",
        lambda: f"wake me up at {number_words(rng.randint(5, 11))} {pick(['am', 'thirty'])}",
    ]
    return pick(templates)()


def digit_string(rng: random.Random) -> str:
    return " ".join(rng.choice(DIGITS) for _ in range(rng.randint(3, 8)))


def sentences(voice_index: int, per_kind: int = SENTENCES_PER_KIND) -> list[tuple[str, str]]:
    """(kind, text) of what one voice reads: its own draw, a function of its index alone."""
    rng = random.Random(7_919 * voice_index + 1)
    return [("digits", digit_string(rng)) for _ in range(per_kind)] + [
        ("command", command(rng)) for _ in range(per_kind)
    ]


def make_sentences(root: Path, per_kind: int = SENTENCES_PER_KIND, progress: bool = True) -> Path:
    """Synthesize the corpus into ``root`` (clips already there are kept); returns the
    transcripts table's path."""
    need_synthesizers("spoken-sentences")
    rows, jobs = [], []
    for i, voice in enumerate(voices()):
        split = "test" if test_voice(i) else "train"
        rng = random.Random(i)
        for n, (kind, text) in enumerate(sentences(i, per_kind)):
            speed, pitch = rng.choice([120, 150, 180]), rng.choice([30, 50, 70])
            path = Path(split) / voice.id / f"{kind}_{n:03d}.wav"
            rows.append({"path": str(path), "text": text, "voice": voice.id, "kind": kind,
                         "split": split})  # fmt: skip
            if not (root / path).exists():
                jobs.append((voice, text, speed, pitch, root / path))
    from rich.progress import track

    with ThreadPoolExecutor(2) as pool:  # the synthesizers are separate processes
        done = pool.map(lambda job: job[0].say(*job[1:], flite_rate=150), jobs)
        for _ in track(done, total=len(jobs), description="synthesizing", disable=not progress):
            pass
    table = root / "transcripts.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return table
