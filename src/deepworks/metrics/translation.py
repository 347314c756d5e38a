"""Translation scores as the field computes them: BLEU and chrF by sacrebleu (its standard 13a
tokenization, so figures compare with papers), exact match, and token accuracy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torchmetrics import Metric


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[str], lowercase: bool
) -> dict[str, float]:
    """Corpus BLEU and chrF (0–100, sacrebleu) and the share of exact matches (0–1);
    ``lowercase``: scored case-insensitively (a lowercasing vocabulary cannot write case)."""
    from sacrebleu.metrics import BLEU, CHRF

    refs = [list(references)]
    fold = str.lower if lowercase else str
    exact = [
        fold(h.strip()) == fold(r.strip()) for h, r in zip(hypotheses, references, strict=True)
    ]
    return {
        "bleu": BLEU(lowercase=lowercase).corpus_score(list(hypotheses), refs).score,
        "chrf": CHRF(lowercase=lowercase).corpus_score(list(hypotheses), refs).score,
        "exact_match": sum(exact) / max(len(exact), 1),
    }


class TranslationScore(Metric):
    """One of ``corpus_scores`` over decoded id rows. Fed as the translation task evaluates:
    predictions (logits, written ids (B, T)) and targets (next tokens, reference ids (B, T));
    the ids are turned into text by ``decode`` when computed."""

    full_state_update = False

    def __init__(self, score: str, decode: Callable[[list[int]], str], lowercase: bool) -> None:
        super().__init__()
        self.score, self.decode, self.lowercase = score, decode, lowercase
        self.add_state("hypotheses", default=[], dist_reduce_fx="cat")
        self.add_state("references", default=[], dist_reduce_fx="cat")

    def update(self, preds: tuple[torch.Tensor, ...], target: tuple[torch.Tensor, ...]) -> None:
        self.hypotheses.append(preds[1])
        self.references.append(target[1])

    def compute(self) -> torch.Tensor:
        hyps = [self.decode(row) for batch in self.hypotheses for row in batch.tolist()]
        refs = [self.decode(row) for batch in self.references for row in batch.tolist()]
        if not hyps:
            return torch.tensor(0.0)
        return torch.tensor(corpus_scores(hyps, refs, self.lowercase)[self.score])


class TokenAccuracy(Metric):
    """The share of target tokens (padding left out) the teacher-forced model ranks first; fed
    (logits, …) and (next tokens, …) as ``TranslationScore``."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("right", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: tuple[torch.Tensor, ...], target: tuple[torch.Tensor, ...]) -> None:
        logits, target = preds[0], target[0]
        real = target != 0
        self.right += ((logits.argmax(-1) == target) & real).sum()
        self.total += real.sum()

    def compute(self) -> torch.Tensor:
        return self.right.float() / self.total.clamp(min=1)
