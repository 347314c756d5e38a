"""The Task owns what one step means; the Trainer owns the loop around it.

Supervised tasks use *automatic optimization*: ``training_step`` returns a loss and the Trainer
does backward, clipping, the optimizer and the schedule. A task that needs more (a GAN's two
optimizers, a self-organizing map without gradients) sets ``automatic_optimization = False``,
returns its own optimizers from ``configure_optimizers`` and steps them in ``training_step``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchmetrics import Metric, MetricCollection

from deepworks.data.schema import Schema
from deepworks.errors import ConfigError
from deepworks.registry import Registry

Batch = tuple[torch.Tensor, torch.Tensor]


class Task:
    name: str = ""
    main_metric: str = "loss"
    automatic_optimization: bool = True
    # Metrics where lower is better; every other metric is maximized.
    lower_is_better: frozenset[str] = frozenset({"loss"})
    # What a generative task makes instead of predictions ("text", "images"); None: it predicts.
    generates: str | None = None
    # Baselines the task scores beside the model: `<prefix>_<metric>` in its metrics.
    own_baselines: tuple[str, ...] = ()
    # Selective prediction (classifiers): the precision the answered examples must reach.
    target_precision: float = 0.95

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    # -- training -----------------------------------------------------------------------
    def configure_optimizers(
        self, model: nn.Module, build: Callable[[Any], torch.optim.Optimizer]
    ) -> list[torch.optim.Optimizer]:
        """``build(params)`` makes the configured optimizer; most tasks need just one. A model
        with ``param_groups()`` (pretrained layers) gives each group its own learning rate."""
        groups = model.param_groups() if hasattr(model, "param_groups") else model.parameters()
        return [build(groups)]

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, y = batch
        return self.loss(model(x), y)

    # -- evaluation ---------------------------------------------------------------------
    def metrics(self, names: set[str] | None = None) -> MetricCollection:
        """The task's metrics; ``names`` picks a subset (None: all)."""
        chosen = {k: m for k, m in self.metric_factories().items() if names is None or k in names}
        return MetricCollection({k: make() for k, make in chosen.items()}, compute_groups=False)

    def metric_factories(self) -> dict[str, Callable[[], Metric]]:
        raise NotImplementedError

    # Tracked every epoch; the rest (curves, matrices) only in the final evaluation.
    epoch_metrics: frozenset[str] = frozenset()

    def evaluation_step(
        self, model: nn.Module, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (loss, predictions as the metrics expect them, targets)."""
        x, y = batch
        output = model(x)
        return self.loss(output, y), self.metric_input(output), self.metric_target(y)

    def metric_input(self, output: torch.Tensor) -> torch.Tensor:
        return output

    def metric_target(self, target: torch.Tensor) -> torch.Tensor:
        return target

    def summarize(self, values: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Computed metric tensors → JSON-friendly numbers, lists and dicts."""
        return {k: _plain(v) for k, v in values.items()}

    # -- prediction ---------------------------------------------------------------------
    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predictions for a batch of encoded inputs, in the user's units."""
        return self.postprocess(model(x))

    def postprocess(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def is_better(self, metric: str, new: float, best: float | None, min_delta: float) -> bool:
        if best is None:
            return True
        if metric in self.lower_is_better:
            return new < best - min_delta
        return new > best + min_delta


def _plain(value: torch.Tensor) -> Any:
    value = value.detach().cpu()
    return value.item() if value.numel() == 1 and value.dim() == 0 else value.tolist()


TASKS: Registry[type[Task]] = Registry("task", ConfigError)


def register_task(name: str):
    def decorator(cls: type[Task]) -> type[Task]:
        cls.name = name
        return TASKS.register(name, help=(cls.__doc__ or "").strip())(cls)

    return decorator


def get_task(schema: Schema) -> Task:
    return TASKS.get(schema.task)(schema)
