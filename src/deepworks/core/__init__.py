"""The contracts at the bottom of the house: errors, the registry, the data schema, parameter
parsing, the batch, and the Task and Model contracts. Nothing here imports from above."""

from deepworks.core.batch import Batch
from deepworks.core.errors import (
    ConfigError,
    DataError,
    DeepworksError,
    ModelError,
    RunError,
    TrainingError,
    did_you_mean,
)
from deepworks.core.model import Model
from deepworks.core.registry import Registry
from deepworks.core.schema import Schema
from deepworks.core.task import TASKS, Task, get_task, register_task

__all__ = [
    "TASKS",
    "Batch",
    "ConfigError",
    "DataError",
    "DeepworksError",
    "Model",
    "ModelError",
    "Registry",
    "RunError",
    "Schema",
    "Task",
    "TrainingError",
    "did_you_mean",
    "get_task",
    "register_task",
]
