"""What a model needs to know about its data, saved with every run as plain JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Schema:
    """The data's shape and meaning: enough to rebuild the model and encode new inputs."""

    modality: str  # a registered kind of data: table, image, text, series, ...
    task: str  # a registered task: classification, regression, forecast, ...
    # tables (n_features,), images (C, H, W), text (max_length,), series (window, n_columns)
    input_shape: tuple[int, ...]
    target: str
    classes: list[str] | None = None  # classification only
    encoder: dict[str, Any] = field(default_factory=dict)  # TableEncoder / ImageEncoder state
    target_scale: tuple[float, float] | None = None  # regression: (mean, std) of train targets
    origin: str = ""
    horizon: int | None = None  # forecast: steps predicted
    outputs: int | None = None  # scores per input when neither classes nor horizon say (LM)
    per_position: bool = False  # a prediction at every position of a sequence (LM)
    # Labels as the data writes them → the task's classes (an anomaly run's "Yes" → anomaly)
    label_aliases: dict[str, str] = field(default_factory=dict)

    @property
    def n_outputs(self) -> int:
        return self.outputs or (len(self.classes) if self.classes else (self.horizon or 1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        d = dict(d)
        d["input_shape"] = tuple(d["input_shape"])
        if d.get("target_scale") is not None:
            d["target_scale"] = tuple(d["target_scale"])
        return cls(**d)
