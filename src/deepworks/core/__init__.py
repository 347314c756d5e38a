"""The contracts at the bottom of the house: errors, the registry, the data schema, parameter
parsing, the batch, and the Task and Model contracts. Nothing here imports from above.

Names are imported on first use (PEP 562): the errors and the registry need no torch, so a
command that only parses its options, or lists runs, does not pay for it."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Batch": "deepworks.core.batch",
    "ConfigError": "deepworks.core.errors",
    "DataError": "deepworks.core.errors",
    "DeepworksError": "deepworks.core.errors",
    "ModelError": "deepworks.core.errors",
    "RunError": "deepworks.core.errors",
    "TrainingError": "deepworks.core.errors",
    "did_you_mean": "deepworks.core.errors",
    "Model": "deepworks.core.model",
    "Registry": "deepworks.core.registry",
    "Schema": "deepworks.core.schema",
    "TASKS": "deepworks.core.task",
    "Task": "deepworks.core.task",
    "get_task": "deepworks.core.task",
    "register_task": "deepworks.core.task",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'deepworks.core' has no attribute {name!r}")
