"""Recurrent networks for sequences: `rnn`, `lstm`, `gru`, over text or numeric series.

For text, padding is id 0; the true lengths go into a packed sequence, so padding never reaches
the recurrence, and the batch is trimmed to its longest sequence first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepworks.core.errors import ModelError
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.embedding import input_layer
from deepworks.models.registry import register_model

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class RecurrentParams:
    embed_dim: int = 128
    hidden: int = 128
    layers: int = 1
    bidirectional: bool | None = None  # None: yes, except for a language model (causal)
    dropout: float = 0.3
    pooling: Literal["last", "mean", "max"] = "max"
    embeddings: str | None = None  # word vectors to start from (GloVe text format)
    freeze_embeddings: bool = False


class RecurrentNet(Model):
    def __init__(self, cell: str, schema: Schema, p: RecurrentParams) -> None:
        super().__init__()
        self.pooling = p.pooling
        self.tokens = schema.modality == "text"
        self.per_step = schema.per_position  # a prediction at every position
        if self.per_step and p.bidirectional:
            raise ModelError(
                "a language model must not see the tokens it predicts: set `bidirectional: false`"
            )
        bidirectional = not self.per_step if p.bidirectional is None else p.bidirectional
        self.embed = input_layer(schema, p.embed_dim, p.embeddings, p.freeze_embeddings)
        self.rnn = CELLS[cell](
            p.embed_dim,
            p.hidden,
            p.layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=p.dropout if p.layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(p.dropout)
        self.directions = 2 if bidirectional else 1
        self.head = nn.Linear(p.hidden * self.directions, schema.n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if not self.tokens:  # a numeric series: every step is real, nothing to pack
            out, hidden = self.rnn(self.dropout(self.embed(x)))
            # every length is the window (written from x so an exported batch size stays free)
            lengths = torch.ones_like(x[:, 0, 0], dtype=torch.long) * x.shape[1]
            return self.dropout(self._pool(out, hidden, lengths, x.shape[1]))
        lengths = (x != 0).sum(dim=1).clamp(min=1)
        x = x[:, : int(lengths.max())]
        emb = self.dropout(self.embed(x))
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, hidden = self.rnn(packed)
        if self.pooling != "last":
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.dropout(self._pool(out, hidden, lengths, x.shape[1]))

    def _pool(self, out, hidden, lengths: torch.Tensor, width: int) -> torch.Tensor:
        if self.pooling == "last":
            h = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM: (h, c)
            return torch.cat(list(h[-self.directions :]), dim=-1)
        mask = (torch.arange(width, device=lengths.device)[None] < lengths[:, None])[..., None]
        if self.pooling == "mean":
            return (out * mask).sum(1) / lengths[:, None]
        return out.masked_fill(~mask, float("-inf")).amax(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_step:  # (N, L) → (N, L, vocab): the next-token scores at each position
            out, _ = self.rnn(self.dropout(self.embed(x)))
            return self.head(self.dropout(out))
        return self.head(self.forward_features(x))


for _cell in CELLS:
    register_model(
        _cell,
        RecurrentParams,
        ("text", "series"),
        f"{_cell.upper()} for text, series",
        tasks=("classification", "regression", "forecast", "language-model"),
        auto=[{"bidirectional": True, "dropout": 0.4}] if _cell == "lstm" else [],
    )(lambda schema, p, _cell=_cell: RecurrentNet(_cell, schema, p))
