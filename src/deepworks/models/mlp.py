"""Multi-layer perceptron: flattens any input (a table row, an image) into a vector."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import activation, register_model


@dataclass
class MLPParams:
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float = 0.1
    activation: str = "relu"
    batch_norm: bool = False


class MLP(Model):
    def __init__(self, in_features: int, n_outputs: int, p: MLPParams) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in p.hidden:
            layers.append(nn.Linear(width, h))
            if p.batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers += [activation(p.activation), nn.Dropout(p.dropout)]
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model(
    "mlp",
    MLPParams,
    ("table", "image", "series"),
    "dense layers, flattened input",
    tasks=("classification", "regression", "forecast"),
)
def mlp(schema: Schema, p: MLPParams) -> nn.Module:
    return MLP(math.prod(schema.input_shape), schema.n_outputs, p)
