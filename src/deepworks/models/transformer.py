"""A Transformer encoder for sequences (text or numeric series): inputs + sinusoidal positions
→ pre-norm encoder layers → CLS or mean pooling → head. Text padding (id 0) is masked out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.embedding import input_layer
from deepworks.models.registry import register_model


@dataclass
class TransformerParams:
    d_model: int = 128
    heads: int = 4
    layers: int = 2
    ff_dim: int = 256
    dropout: float = 0.1
    pooling: Literal["cls", "mean"] = "mean"
    embeddings: str | None = None
    freeze_embeddings: bool = False


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """The fixed positional encodings of "Attention Is All You Need"."""
    position = torch.arange(length)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


class TransformerNet(Model):
    tags = frozenset({"attention"})

    def __init__(self, schema: Schema, p: TransformerParams) -> None:
        super().__init__()
        self.pooling, self.scale = p.pooling, math.sqrt(p.d_model)
        self.tokens = schema.modality == "text"
        self.per_step = schema.per_position  # causal: each position sees its past
        self.embed = input_layer(schema, p.d_model, p.embeddings, p.freeze_embeddings)
        # One extra position for the CLS token.
        self.register_buffer(
            "positions",
            sinusoidal_positions(schema.input_shape[0] + 1, p.d_model),
            persistent=False,
        )
        self.cls = nn.Parameter(torch.zeros(1, 1, p.d_model))
        layer = nn.TransformerEncoderLayer(
            p.d_model, p.heads, p.ff_dim, p.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, p.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(p.d_model)
        self.dropout = nn.Dropout(p.dropout)
        self.head = nn.Linear(p.d_model, schema.n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.tokens:
            keep = x != 0
            width = int(keep.sum(1).max().clamp(min=1))
            x, keep = x[:, :width], keep[:, :width]
        else:  # a numeric series: every step is real
            keep = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        h = self.embed(x) * self.scale
        if self.pooling == "cls":
            h = torch.cat([self.cls.expand(len(x), -1, -1), h], dim=1)
            keep = torch.cat([torch.ones_like(keep[:, :1]), keep], dim=1)
        h = self.dropout(h + self.positions[: h.shape[1]])
        h = self.norm(self.encoder(h, src_key_padding_mask=~keep))
        if self.pooling == "cls":
            return h[:, 0]
        weights = keep[..., None].float()
        return (h * weights).sum(1) / weights.sum(1).clamp(min=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_step:
            return self.head(self.dropout(self.causal(x)))
        return self.head(self.dropout(self.forward_features(x)))

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, layers, L, L) self-attention weights between the L token positions, averaged over
        heads (a CLS position, when pooling by CLS, is left out). The layers are asked for the
        weights they skip in training; with gradients on, PyTorch's fused inference path (which
        has none) is off."""
        maps: list[torch.Tensor] = []
        originals = [layer.self_attn.forward for layer in self.encoder.layers]

        def keeping(forward):
            def attend(*args, **kwargs):
                out, weights = forward(*args, **{**kwargs, "need_weights": True})
                maps.append(weights.detach())
                return out, weights

            return attend

        try:
            for layer, forward in zip(self.encoder.layers, originals, strict=True):
                layer.self_attn.forward = keeping(forward)
            with torch.enable_grad():
                self.forward_features(x)
        finally:
            for layer in self.encoder.layers:
                del layer.self_attn.forward  # back to the class's own method
        stacked = torch.stack(maps, dim=1)
        return stacked[..., 1:, 1:] if self.pooling == "cls" else stacked

    def causal(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L) tokens → (N, L, d_model), position t attending to positions ≤ t only."""
        h = self.dropout(self.embed(x) * self.scale + self.positions[: x.shape[1]])
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device)
        return self.norm(self.encoder(h, mask=mask, is_causal=True))


@register_model(
    "transformer",
    TransformerParams,
    ("text", "series"),
    "Transformer encoder, CLS/mean pooling",
    tasks=("classification", "regression", "forecast", "language-model"),
    auto=[{"d_model": 64, "layers": 2, "ff_dim": 128, "dropout": 0.3}],
)
def transformer(schema: Schema, p: TransformerParams) -> nn.Module:
    return TransformerNet(schema, p)
