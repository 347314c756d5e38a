"""Every registry by kind, for the config's name checks and the CLI's listings."""

from __future__ import annotations

from deepworks.registry import Registry


def registry(kind: str) -> Registry:
    from deepworks.data import DATASETS
    from deepworks.models import MODELS
    from deepworks.tasks import TASKS
    from deepworks.train.optim import OPTIMIZERS, SCHEDULERS

    return {
        "dataset": DATASETS,
        "model": MODELS,
        "task": TASKS,
        "optimizer": OPTIMIZERS,
        "scheduler": SCHEDULERS,
    }[kind]
