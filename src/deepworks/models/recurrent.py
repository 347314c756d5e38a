"""Recurrent networks for sequences: `rnn`, `lstm`, `gru`.

Padding is id 0; the true lengths go into a packed sequence, so padding never reaches the
recurrence, and the batch is trimmed to its longest sequence first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepworks.data.schema import Schema
from deepworks.models.embedding import token_embedding
from deepworks.models.registry import register_model

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class RecurrentParams:
    embed_dim: int = 128
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3
    pooling: Literal["last", "mean", "max"] = "max"
    embeddings: str | None = None  # word vectors to start from (GloVe text format)
    freeze_embeddings: bool = False


class RecurrentNet(nn.Module):
    def __init__(self, cell: str, schema: Schema, p: RecurrentParams) -> None:
        super().__init__()
        self.pooling = p.pooling
        self.embed = token_embedding(schema, p.embed_dim, p.embeddings, p.freeze_embeddings)
        self.rnn = CELLS[cell](
            p.embed_dim,
            p.hidden,
            p.layers,
            batch_first=True,
            bidirectional=p.bidirectional,
            dropout=p.dropout if p.layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(p.dropout)
        self.directions = 2 if p.bidirectional else 1
        self.head = nn.Linear(p.hidden * self.directions, schema.n_outputs)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        lengths = (x != 0).sum(dim=1).clamp(min=1)
        x = x[:, : int(lengths.max())]
        emb = self.dropout(self.embed(x))
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, hidden = self.rnn(packed)
        if self.pooling == "last":
            h = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM: (h, c)
            features = torch.cat(list(h[-self.directions :]), dim=-1)
        else:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            mask = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None])[..., None]
            if self.pooling == "mean":
                features = (out * mask).sum(1) / lengths[:, None]
            else:
                features = out.masked_fill(~mask, float("-inf")).amax(1)
        return self.dropout(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


for _cell in CELLS:
    register_model(_cell, RecurrentParams, ("text",), f"{_cell.upper()} over token embeddings")(
        lambda schema, p, _cell=_cell: RecurrentNet(_cell, schema, p)
    )
