"""Multi-layer perceptron: flattens any input (a table row, an image) into a vector.

On tables, each categorical column's one-hot block goes through its own small embedding
first (entity embeddings, Guo & Berkhahn 2016): a bias-free linear map of a one-hot vector is
exactly an embedding lookup, so the encoded row, its explanations and its ONNX export stay as
they are, while categories that behave alike can share a direction instead of a column each."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import activation, register_model


@dataclass
class MLPParams:
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    dropout: float | None = None  # None: 0.2 on tables, 0.1 otherwise
    activation: str = "relu"
    batch_norm: bool | None = None  # None: on for tables (the tabular recipe), off otherwise
    embeddings: bool = True  # tables: an embedding per categorical column, not raw one-hots


# The tabular recipe (batch norm, more dropout), measured in benchmarks/tables.py: on four real
# tables it matched or beat the plain MLP on each (e.g. HMDA 0.908 → 0.924).
TABLE_DEFAULTS = {"batch_norm": True, "dropout": 0.2}
OTHER_DEFAULTS = {"batch_norm": False, "dropout": 0.1}


def embedding_size(categories: int) -> int:
    """fast.ai's rule of thumb for an embedding's width, capped at 50."""
    return min(50, round(1.6 * categories**0.56))


class CategoryEmbeddings(nn.Module):
    """An encoded table row (numbers, then one one-hot block per categorical column) → the
    numbers as they are beside each block's embedding."""

    def __init__(self, numeric: int, blocks: list[int]) -> None:
        super().__init__()
        self.numeric, self.blocks = numeric, blocks
        self.embed = nn.ModuleList(nn.Linear(k, embedding_size(k), bias=False) for k in blocks)
        self.width = numeric + sum(embedding_size(k) for k in blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts, start = [x[:, : self.numeric]], self.numeric
        for k, embed in zip(self.blocks, self.embed, strict=True):
            parts.append(embed(x[:, start : start + k]))
            start += k
        return torch.cat(parts, dim=1)


class MLP(Model):
    def __init__(
        self, in_features: int, n_outputs: int, p: MLPParams, table: dict | None = None
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        if table and table.get("categorical") and p.embeddings:  # a table with categories
            blocks = [len(cats) + 1 for cats in table["categorical"].values()]  # + unseen slot
            texts = sum(len(t["idf"]) for t in table.get("texts", {}).values())
            embeddings = CategoryEmbeddings(len(table["numeric"]) + texts, blocks)
            layers.append(embeddings)
            width = embeddings.width
        for h in p.hidden:
            layers.append(nn.Linear(width, h))
            if p.batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers += [activation(p.activation), nn.Dropout(p.dropout)]
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)
        self.chosen = {"batch_norm": p.batch_norm, "dropout": p.dropout}

    def resolved_params(self) -> dict[str, Any]:
        return dict(self.chosen)

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
    auto=[{"hidden": [16], "dropout": 0.2}, {"hidden": [128, 64]}],
)
def mlp(schema: Schema, p: MLPParams) -> nn.Module:
    table = schema.encoder if schema.encoder.get("kind") == "table" else None
    defaults = TABLE_DEFAULTS if table else OTHER_DEFAULTS
    p = replace(p, **{k: v for k, v in defaults.items() if getattr(p, k) is None})
    return MLP(math.prod(schema.input_shape), schema.n_outputs, p, table)
