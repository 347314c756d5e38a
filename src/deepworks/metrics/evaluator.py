"""Streaming evaluation: metrics are updated batch by batch, so memory stays flat however large
the evaluation set (no logits are kept)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics import MeanMetric

from deepworks.core.batch import Batch
from deepworks.core.task import Task


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    task: Task,
    loader: DataLoader,
    device: torch.device | str = "cpu",
    names: set[str] | None = None,
) -> dict[str, Any]:
    """The task's metrics (all, or those in ``names``) plus the mean loss over ``loader``."""
    was_training = model.training
    model.eval()
    metrics = task.metrics(names).to(device)
    loss = MeanMetric().to(device)
    for raw in loader:
        batch = Batch.of(raw).to(device)
        batch_loss, preds, target = task.evaluation_step(model, batch)
        loss.update(batch_loss, weight=len(batch))
        metrics.update(preds, target)
    model.train(was_training)
    return {"loss": loss.compute().item(), **task.summarize(metrics.compute())}


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the single-number metrics (for logs, tables and the runs index)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}
