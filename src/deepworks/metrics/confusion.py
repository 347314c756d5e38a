"""The five per-epoch classification scores from one confusion matrix, in one update.

torchmetrics computes accuracy, balanced accuracy and macro precision, recall and F1 as five
metrics, each with its own update per batch; on small models that Python work is a visible
share of an epoch. All five are functions of the confusion matrix, so one matrix (a single
``bincount`` per batch) gives them, with torchmetrics' definitions: a class that is neither
in the targets nor in the predictions is left out of the macro means. A test holds the values
equal to torchmetrics' and scikit-learn's.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

SCORES = frozenset({"accuracy", "balanced_accuracy", "precision", "recall", "f1"})


class ConfusionScores(Metric):
    full_state_update = False

    def __init__(self, num_classes: int, names: frozenset[str] = SCORES) -> None:
        super().__init__()
        self.num_classes, self.names = num_classes, names
        self.add_state(
            "matrix", torch.zeros(num_classes, num_classes, dtype=torch.long), dist_reduce_fx="sum"
        )

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds``: class scores (N, C) or labels (N,); ``target``: labels (N,)."""
        labels = preds.argmax(-1) if preds.dim() > 1 else preds
        n = self.num_classes
        cells = torch.bincount(target.long() * n + labels.long(), minlength=n * n)
        self.matrix += cells.view(n, n)

    def compute(self) -> dict[str, torch.Tensor]:
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
        }
        return {k: scores[k]().float() for k in self.names}
