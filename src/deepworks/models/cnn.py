"""A small configurable ConvNet: conv → batch-norm → activation → 2×2 max-pool blocks.

Pooling stops once the feature map is 2 pixels wide, so the same config works from 8×8
digits to larger photos; the head's input width is measured by one dummy forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import activation, register_model


@dataclass
class CNNParams:
    channels: list[int] = field(default_factory=lambda: [32, 64])
    kernel_size: int = 3
    hidden: int = 128
    dropout: float = 0.25
    activation: str = "relu"
    batch_norm: bool = True


class CNN(Model):
    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, p: CNNParams) -> None:
        super().__init__()
        in_ch, height, width = input_shape
        blocks: list[nn.Module] = []
        for out_ch in p.channels:
            blocks.append(nn.Conv2d(in_ch, out_ch, p.kernel_size, padding=p.kernel_size // 2))
            if p.batch_norm:
                blocks.append(nn.BatchNorm2d(out_ch))
            blocks.append(activation(p.activation))
            if min(height, width) >= 4:
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            in_ch = out_ch
        self.features = nn.Sequential(*blocks, nn.Flatten())
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *input_shape)).shape[1]
        self.head = nn.Sequential(
            nn.Dropout(p.dropout),
            nn.Linear(flat, p.hidden),
            activation(p.activation),
            nn.Dropout(p.dropout),
            nn.Linear(p.hidden, n_outputs),
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model(
    "cnn",
    CNNParams,
    ("image", "audio"),
    "small ConvNet for images of any size (and spectrograms)",
    tasks=("classification",),
    auto=[{}],
)
def cnn(schema: Schema, p: CNNParams) -> nn.Module:
    return CNN(schema.input_shape, schema.n_outputs, p)
