"""Every classification score of the confusion matrix, from one matrix in one update.

Accuracy, balanced accuracy, macro precision, recall and F1, F1 per class and the matrix
itself are all functions of the confusion matrix, so one matrix (a single ``bincount`` per
batch) gives them, with torchmetrics' definitions: a class that is neither in the targets nor
in the predictions is left out of the macro means (its F1 is 0). A test holds the values equal
to torchmetrics' and scikit-learn's.
"""

from __future__ import annotations

import torch

from deepworks.core.metric import StreamMetric

SCORES = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "f1_per_class",
        "confusion_matrix",
    }
)


class ConfusionScores(StreamMetric):
    def __init__(self, num_classes: int, names: frozenset[str] = SCORES) -> None:
        super().__init__()
        self.num_classes, self.names = num_classes, names
        self.add_state("matrix", torch.zeros(num_classes, num_classes, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds``: class scores (N, C) or labels (N,); ``target``: labels (N,)."""
        labels = preds.argmax(-1) if preds.dim() > 1 else preds
        n = self.num_classes
        cells = torch.bincount(target.long() * n + labels.long(), minlength=n * n)
        self.matrix += cells.view(n, n)

    def value(self) -> dict[str, torch.Tensor]:
        m = self.matrix.double()
        hits, actual, predicted = m.diagonal(), m.sum(1), m.sum(0)
        present = (actual + predicted) > 0
        if not present.any():
            present = torch.ones_like(present)  # nothing seen: every score is 0

        def macro(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
            return (numerator / denominator.clamp(min=1))[present].mean()  # 0 where 0/0

        scores = {  # only the asked ones are computed
            "accuracy": lambda: hits.sum() / m.sum().clamp(min=1),
            "balanced_accuracy": lambda: macro(hits, actual),  # = macro recall
            "precision": lambda: macro(hits, predicted),
            "recall": lambda: macro(hits, actual),
            "f1": lambda: macro(2 * hits, actual + predicted),
            "f1_per_class": lambda: 2 * hits / (actual + predicted).clamp(min=1),
        }
        out = {k: scores[k]().float() for k in self.names if k in scores}
        if "confusion_matrix" in self.names:
            out["confusion_matrix"] = self.matrix.clone()
        return out
