"""Tasks: what one training step is, its loss, its metrics, its predictions."""

from deepworks.tasks import (  # noqa: F401  (registers the tasks)
    autoencoder,
    forecast,
    gan,
    language_model,
    recommendation,
    som,
    supervised,
)
from deepworks.tasks.base import TASKS, Task, get_task, register_task

__all__ = ["TASKS", "Task", "get_task", "register_task"]
