"""The data a task learns from: the source read, split and encoded as the task needs it.

A task that reads its data as another would (an autoencoder as its dataset's natural task, an
anomaly detector as a classifier) says so in ``reads_data_as`` and adapts the bundle after.
"""

from __future__ import annotations

import deepworks.modalities  # noqa: F401  (registers the kinds of data)
from deepworks.config import DataConfig
from deepworks.core.task import TASKS
from deepworks.data.bundle import DataBundle, build_bundle, infer_task, load_source


def load_data(cfg: DataConfig, task: str = "auto", seed: int = 0) -> DataBundle:
    """Load, split and encode the configured data for ``task`` (`auto`: the data's natural
    task).

    >>> from deepworks.config import DataConfig
    >>> bundle = load_data(DataConfig(dataset="iris"))
    >>> bundle.schema.classes
    ['setosa', 'versicolor', 'virginica']
    """
    source = load_source(cfg)
    name = infer_task(source, cfg, task)
    task_cls = TASKS.get(name)
    reads_as = task_cls.reads_data_as or name
    bundle = build_bundle(source, infer_task(source, cfg, reads_as), cfg, seed)
    return task_cls.adapt_data(bundle, cfg)
