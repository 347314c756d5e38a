"""`crnn-ctc`: convolutions over the spectrogram, then a stack of bidirectional GRUs, scoring
characters at every 20 ms frame for CTC (speech recognition; Deep Speech 2's shape)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepworks.core.schema import Schema
from deepworks.models.acoustic import AcousticModel, CharacterHead, FrontEnd
from deepworks.models.registry import register_model


@dataclass
class CRNNCTCParams:
    channels: int = 32
    hidden: int = 128  # GRU units per direction
    layers: int = 3
    dropout: float = 0.1


class CRNNCTC(AcousticModel):
    def __init__(self, mels: int, outputs: int, p: CRNNCTCParams) -> None:
        super().__init__()
        self.front = FrontEnd(mels, p.channels, 2 * p.hidden, p.dropout)
        self.rnn = nn.GRU(
            2 * p.hidden, p.hidden, p.layers, batch_first=True, bidirectional=True,
            dropout=p.dropout if p.layers > 1 else 0.0,
        )  # fmt: skip
        self.head = CharacterHead(2 * p.hidden, outputs, p.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.front(x))
        return self.head(h)  # (N, T / 2, characters + blank) log-probabilities


@register_model(
    "crnn-ctc", CRNNCTCParams, ("speech",), "conv front end + bidirectional GRUs, CTC",
    tasks=("speech-recognition",),
)  # fmt: skip
def crnn_ctc(schema: Schema, p: CRNNCTCParams) -> nn.Module:
    return CRNNCTC(schema.input_shape[1], schema.n_outputs, p)
