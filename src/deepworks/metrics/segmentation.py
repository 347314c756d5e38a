"""Semantic segmentation scores from one pixel confusion matrix, streamed batch by batch.

Intersection over union per class is TP / (TP + FP + FN) over every pixel of the split (the
PASCAL VOC and Cityscapes definition: summed over the split, not averaged per image), Dice is
2·TP / (2·TP + FP + FN), pixel accuracy the share of pixels labelled right. Means are over the
classes present in the targets or the predictions, background included. A test holds them
equal to torchmetrics' own.
"""

from __future__ import annotations

import torch

from deepworks.core.metric import StreamMetric

SCORES = frozenset({"mean_iou", "dice", "pixel_accuracy", "iou_per_class"})


class PixelScores(StreamMetric):
    def __init__(self, num_classes: int, names: frozenset[str] = SCORES) -> None:
        super().__init__()
        self.num_classes, self.names = num_classes, names
        n = num_classes
        self.add_state("matrix", torch.zeros(n, n, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """``preds``: class scores (N, C, H, W) or labels (N, H, W); ``target``: (N, H, W)."""
        labels = preds.argmax(1) if preds.dim() == 4 else preds
        n = self.num_classes
        cells = torch.bincount((target.long() * n + labels.long()).reshape(-1), minlength=n * n)
        self.matrix += cells.view(n, n)

    def value(self) -> dict[str, torch.Tensor]:
        m = self.matrix.double()
        tp, actual, predicted = m.diagonal(), m.sum(1), m.sum(0)
        union = actual + predicted - tp
        present = union > 0
        iou = torch.where(present, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))
        dice = 2 * tp / (actual + predicted).clamp_min(1)
        out = {
            "mean_iou": iou[present].mean(),
            "dice": dice[present].mean(),
            "pixel_accuracy": tp.sum() / m.sum().clamp_min(1),
            "iou_per_class": iou,
        }
        return {k: v.float() for k, v in out.items() if k in self.names}
