"""The names of the data modalities and tasks: one list, for the config and the schema."""

from typing import Literal, get_args

Modality = Literal["table", "image", "text", "series", "ratings", "audio"]
TaskKind = Literal[
    "classification",
    "regression",
    "forecast",
    "language-model",
    "autoencoder",
    "anomaly",
    "som",
    "clustering",
    "gan",
    "conditional-gan",
    "recommendation",
]

# What `task:` accepts in a config: a task, or `auto` to take the data's natural one.
TaskChoice = Literal[("auto", *get_args(TaskKind))]  # type: ignore[misc]
