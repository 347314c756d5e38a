"""Streaming evaluation: metrics are updated batch by batch, so memory stays flat however large
the evaluation set (no logits are kept)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from deepworks.core.batch import Batch
from deepworks.core.metric import MeanValue
from deepworks.core.task import Task


class Evaluator:
    """A task's metrics (all, or those in ``names``) and the mean loss, built once and reset
    at each call: the trainer validates every epoch without rebuilding them."""

    def __init__(
        self, task: Task, names: set[str] | None = None, device: torch.device | str = "cpu"
    ) -> None:
        self.task, self.device = task, device
        self.metrics = task.metrics(names).to(device)
        self.loss = MeanValue().to(device)

    @torch.inference_mode()
    def __call__(self, model: nn.Module, loader: DataLoader) -> dict[str, Any]:
        self.metrics.reset()
        self.loss.reset()
        was_training = model.training
        model.eval()
        device = torch.device(self.device)
        for raw in loader:
            batch = Batch.loaded(raw, device)
            batch_loss, preds, target = self.task.evaluation_step(model, batch)
            if batch_loss is not None:
                self.loss.update(batch_loss, weight=len(batch))
            self.metrics.update(preds, target)
        model.train(was_training)
        loss = {"loss": self.loss.compute().item()} if self.loss.seen else {}
        return loss | self.task.summarize(self.metrics.compute())


def evaluate(
    model: nn.Module,
    task: Task,
    loader: DataLoader,
    device: torch.device | str = "cpu",
    names: set[str] | None = None,
) -> dict[str, Any]:
    """The task's metrics (all, or those in ``names``) plus the mean loss over ``loader``."""
    return Evaluator(task, names, device)(model, loader)


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """Only the single-number metrics (for logs, tables and the runs index)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}
