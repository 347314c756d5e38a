"""Streaming metrics whose state is sums, and a set of metrics updated and computed as one.

deepworks' own scores (confusion-matrix scores, threshold histograms, error sums, running
means) all keep states that add up: a batch adds to them, processes add theirs together. That
is the whole of what they need from a metrics library, and torchmetrics' package imports every
domain it has (image metrics with torchvision, text metrics with transformers: seconds before
the first validation of a table), so they stand on this small base instead. torchmetrics stays
for the scores it alone computes (COCO mAP, WER, perplexity): a ``MetricSet`` holds either kind.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class StreamMetric(nn.Module):
    """A metric of summed states: ``update`` adds a batch, ``value`` turns the sums into
    scores; ``compute`` adds the states of every process first (as torchmetrics does: the
    local states are kept, so updates may go on)."""

    def __init__(self) -> None:
        super().__init__()
        self._defaults: dict[str, torch.Tensor] = {}

    def add_state(self, name: str, default: torch.Tensor) -> None:
        self._defaults[name] = default.clone()
        self.register_buffer(name, default.clone(), persistent=False)

    def reset(self) -> None:
        for name, default in self._defaults.items():
            setattr(self, name, default.to(getattr(self, name).device).clone())

    def update(self, preds: Any, target: Any) -> None:
        raise NotImplementedError

    def value(self) -> torch.Tensor | dict[str, torch.Tensor]:
        raise NotImplementedError

    def compute(self) -> torch.Tensor | dict[str, torch.Tensor]:
        if _world_size() == 1:
            return self.value()
        local = {name: getattr(self, name) for name in self._defaults}
        for name, state in local.items():
            total = state.clone()
            torch.distributed.all_reduce(total)
            setattr(self, name, total)
        try:
            return self.value()
        finally:
            for name, state in local.items():
                setattr(self, name, state)


class MetricSet(nn.Module):
    """Named metrics (deepworks' or torchmetrics') updated together; ``compute`` gives one
    dict: a metric's tensor under its name, a metric's dict of scores merged in."""

    def __init__(self, metrics: dict[str, Any]) -> None:
        super().__init__()
        self.metrics = nn.ModuleDict(metrics)

    def update(self, preds: Any, target: Any) -> None:
        for metric in self.metrics.values():
            metric.update(preds, target)

    def compute(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, metric in self.metrics.items():
            value = metric.compute()
            out.update(value if isinstance(value, dict) else {name: value})
        return out

    def reset(self) -> None:
        for metric in self.metrics.values():
            metric.reset()


class MeanValue(StreamMetric):
    """The weighted running mean of scalars (the evaluation loss, weighted by batch size)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64))
        self.add_state("weight", torch.tensor(0.0, dtype=torch.float64))

    def update(self, value: torch.Tensor | float, weight: float = 1.0) -> None:
        self.total += torch.as_tensor(value, dtype=torch.float64).detach() * weight
        self.weight += weight

    @property
    def seen(self) -> bool:
        return bool(self.weight > 0)

    def value(self) -> torch.Tensor:
        return (self.total / self.weight).float()
