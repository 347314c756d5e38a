"""`crnn`: convolutions over a spectrogram, then a bidirectional GRU over time (keyword
spotting and other sound classification)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model


@dataclass
class CRNNParams:
    channels: list[int] = field(default_factory=lambda: [32, 64])
    hidden: int = 64  # GRU units per direction
    dropout: float = 0.2


class CRNN(Model):
    def __init__(self, shape: tuple[int, ...], n_outputs: int, p: CRNNParams) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = shape[0]
        for ch in p.channels:  # each block halves frequency and time
            layers += [
                nn.Conv2d(in_ch, ch, 3, padding=1),
                nn.BatchNorm2d(ch),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_ch = ch
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            _, c, f, _ = self.convs(torch.zeros(1, *shape)).shape
        self.rnn = nn.GRU(c * f, p.hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(p.dropout), nn.Linear(2 * p.hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x)  # (N, C, F, T)
        h = h.permute(0, 3, 1, 2).flatten(2)  # (N, T, C·F): one vector per time step
        out, _ = self.rnn(h)
        return self.head(out.max(dim=1).values)  # the strongest evidence anywhere in time


@register_model(
    "crnn", CRNNParams, ("audio",), "conv + bidirectional GRU over spectrograms",
    tasks=("classification",),
)  # fmt: skip
def crnn(schema: Schema, p: CRNNParams) -> nn.Module:
    return CRNN(schema.input_shape, schema.n_outputs, p)
