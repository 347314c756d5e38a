"""`transformer-ctc`: convolutions over the spectrogram, then a Transformer encoder (pre-norm,
sinusoidal positions), scoring characters at every 20 ms frame for CTC."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepworks.core.schema import Schema
from deepworks.models.acoustic import AcousticModel, CharacterHead, FrontEnd
from deepworks.models.registry import register_model
from deepworks.models.transformer import sinusoidal_positions


@dataclass
class TransformerCTCParams:
    channels: int = 32
    d_model: int = 144
    heads: int = 4
    layers: int = 4
    ff: int = 576
    dropout: float = 0.1


class TransformerCTC(AcousticModel):
    def __init__(self, mels: int, outputs: int, p: TransformerCTCParams) -> None:
        super().__init__()
        self.front = FrontEnd(mels, p.channels, p.d_model, p.dropout)
        layer = nn.TransformerEncoderLayer(
            p.d_model, p.heads, p.ff, p.dropout, activation="gelu", batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, p.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(p.d_model)
        self.head = CharacterHead(p.d_model, outputs, p.dropout)
        self.d_model = p.d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.front(x)
        h = h + sinusoidal_positions(h.shape[1], self.d_model).to(h)
        return self.head(self.norm(self.encoder(h)))


@register_model(
    "transformer-ctc", TransformerCTCParams, ("speech",),
    "conv front end + Transformer encoder, CTC", tasks=("speech-recognition",),
)  # fmt: skip
def transformer_ctc(schema: Schema, p: TransformerCTCParams) -> nn.Module:
    return TransformerCTC(schema.input_shape[1], schema.n_outputs, p)
