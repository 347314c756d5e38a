"""Every registry by kind: the step that checks a config's names, and the CLI's listings.

The config schema imports only the core; this module, which sits above the registries, hands
them to ``config.load_config`` so every name in a config (dataset, model and its parameters,
task, optimizer, scheduler) is checked at load time, with "did you mean".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepworks import config
from deepworks.core.registry import Registry


def registry(kind: str) -> Registry:
    import deepworks.modalities  # noqa: F401  (registers the built-in datasets)
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


def load_config(
    source: str | Path | dict[str, Any] | config.ExperimentConfig,
    overrides: list[str] | None = None,
) -> config.ExperimentConfig:
    """Read and validate an experiment, every registered name included.

    >>> from deepworks.core.errors import ConfigError
    >>> try:
    ...     load_config({"data": {"dataset": "iris"}, "model": {"name": "mlpp"}})
    ... except ConfigError as exc:
    ...     print(str(exc)[:73])
    invalid config (dict): `model`: unknown model `mlpp`. Did you mean `mlp`?
    """
    return config.load_config(source, overrides, registries=registry)
