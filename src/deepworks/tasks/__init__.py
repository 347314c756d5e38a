"""Tasks: what one training step is, its loss, its metrics, its predictions."""

from deepworks.core.task import TASKS, Task, get_task, register_task
from deepworks.tasks import (  # noqa: F401  (registers the tasks)
    autoencoder,
    detection,
    dqn,
    forecast,
    gan,
    instances,
    language_model,
    ppo,
    recommendation,
    segmentation,
    self_play,
    som,
    speech,
    supervised,
    translation,
)
from deepworks.tasks.data import load_data

__all__ = ["TASKS", "Task", "get_task", "load_data", "register_task"]
