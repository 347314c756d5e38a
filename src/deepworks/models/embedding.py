"""Inputs of sequence models: token embeddings (learned, or initialised from a word-vector
file) for text, a linear projection for numeric series."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deepworks.core.errors import ModelError
from deepworks.core.schema import Schema


def token_embedding(
    schema: Schema, dim: int, vectors: str | None = None, freeze: bool = False
) -> nn.Embedding:
    """An embedding over the run's vocabulary (id 0 pads).

    ``vectors`` is a text file in the GloVe / word2vec text format (``word v1 v2 ...`` per
    line); rows for words it knows start from those vectors, the rest stay random.
    """
    vocab: list[str] = schema.encoder["vocab"]
    embedding = nn.Embedding(len(vocab), dim, padding_idx=0)
    if vectors:
        found = load_vectors(Path(vectors), vocab, dim, embedding.weight.data)
        if found == 0:
            raise ModelError(f"{vectors}: none of its words are in the vocabulary")
        embedding.weight.requires_grad_(not freeze)
    return embedding


def input_layer(schema: Schema, dim: int, vectors: str | None, freeze: bool) -> nn.Module:
    """Token embeddings for text; a linear projection of each step's values for series."""
    if schema.modality == "series":
        return nn.Linear(schema.input_shape[-1], dim)
    return token_embedding(schema, dim, vectors, freeze)


def load_vectors(path: Path, vocab: list[str], dim: int, weight: torch.Tensor) -> int:
    if not path.is_file():
        raise ModelError(f"embeddings file {path} does not exist")
    index = {w: i for i, w in enumerate(vocab)}
    found = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2:  # word2vec header: "<count> <dim>"
                continue
            if parts[0] not in index:
                continue
            if len(parts) - 1 != dim:
                raise ModelError(
                    f"{path}, line {number}: vectors have {len(parts) - 1} dimensions but the "
                    f"model's embed size is {dim}; set the model's embedding size to match"
                )
            weight[index[parts[0]]] = torch.tensor([float(v) for v in parts[1:]])
            found += 1
    return found
