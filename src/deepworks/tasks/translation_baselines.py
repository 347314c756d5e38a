"""What a translation model must beat, on the same test sentences: copying the source, and
translating word by word with a dictionary learned from the training pairs (IBM Model 1,
Brown et al. 1993: expectation–maximization over which source word each target word came
from)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

_WORD = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")  # hyphenated words stay whole
NULL = ""  # the empty source word: target words with no counterpart come from it


def words(text: str, lowercase: bool) -> list[str]:
    return _WORD.findall(text.lower() if lowercase else text)


class WordDictionary:
    """Each source word's most probable target word under IBM Model 1."""

    def __init__(self, iterations: int = 5) -> None:
        self.iterations = iterations
        self.best: dict[str, str] = {}
        self.lowercase = True

    def fit(self, sources: Sequence[str], targets: Sequence[str], lowercase: bool):
        self.lowercase = lowercase
        pairs = [
            ([NULL, *words(s, lowercase)], words(t, lowercase))
            for s, t in zip(sources, targets, strict=True)
        ]
        prob: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(lambda: 1.0))
        for _ in range(self.iterations):
            counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
            for src, tgt in pairs:
                for f in tgt:  # E-step: share f among the source words by t(f | e)
                    weights = [prob[e][f] for e in src]
                    norm = sum(weights)
                    for e, w in zip(src, weights, strict=True):
                        counts[e][f] += w / norm
            prob = defaultdict(lambda: defaultdict(float))
            for e, row in counts.items():  # M-step: t(f | e) ∝ expected counts
                total = sum(row.values())
                prob[e] = defaultdict(float, {f: c / total for f, c in row.items()})
        self.best = {e: max(row, key=row.get) for e, row in prob.items() if e != NULL and row}
        return self

    def translate(self, text: str) -> str:
        """Each word replaced by its best translation (an unknown word is copied)."""
        return " ".join(self.best.get(w, w) for w in words(text, self.lowercase))
