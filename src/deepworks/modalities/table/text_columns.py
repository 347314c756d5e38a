"""Free-text columns of a table → TF-IDF features over the text encoder's word vocabulary.

The column's words go through the same word tokenizer and vocabulary fit as a text run's (the
text encoder, fit on the training split: the `TEXT_TERMS` most frequent words seen at least
twice); each cell becomes sublinear term counts weighted by inverse document frequency (the
smoothed idf scikit-learn's TfidfVectorizer uses) and scaled to unit length, so a table's MLP
reads a description or a review beside its numbers and categories.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from deepworks.config import TokenizerConfig
from deepworks.modalities.text.encoder import TextEncoder

TEXT_TERMS = 1000  # words kept per text column
_RESERVED = 2  # <pad> and <unk>: not features


def fit_text_column(texts: Iterable[str], column: str) -> dict[str, Any]:
    """The column's vocabulary (the text encoder, saved whole) and each word's idf."""
    texts = [str(t) for t in texts]
    cfg = TokenizerConfig(max_vocab=TEXT_TERMS + _RESERVED, min_freq=2)
    encoder = TextEncoder.fit(texts, cfg, column)
    width = encoder.vocab_size - _RESERVED
    documents = np.zeros(width)
    for text in texts:
        ids = {i - _RESERVED for i in encoder.token_ids(text) if i >= _RESERVED}
        documents[list(ids)] += 1
    idf = np.log((1 + len(texts)) / (1 + documents)) + 1
    return {"encoder": encoder.to_dict(), "idf": idf.tolist()}


def text_width(spec: dict[str, Any]) -> int:
    return len(spec["idf"])


def text_features(spec: dict[str, Any], texts: Iterable[Any]) -> np.ndarray:
    """(rows, words): log(1 + count) × idf, each row of unit length (an empty cell: zeros)."""
    encoder = TextEncoder(**spec["encoder"])
    idf = np.asarray(spec["idf"])
    texts = ["" if t is None or t != t else str(t) for t in texts]  # NaN: an empty cell
    counts = np.zeros((len(texts), len(idf)))
    for row, text in enumerate(texts):
        ids = [i - _RESERVED for i in encoder.token_ids(text) if i >= _RESERVED]
        np.add.at(counts[row], ids, 1.0)
    weights = np.log1p(counts) * idf
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return weights / np.where(norms > 0, norms, 1.0)
