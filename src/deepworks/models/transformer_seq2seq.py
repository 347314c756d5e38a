"""A Transformer encoder–decoder (Vaswani et al. 2017) on ``torch.nn.Transformer``: pre-norm
layers, sinusoidal positions, padding masks on both sides and a causal mask on the target; the
output layer shares the target embedding's weights."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.schema import Schema
from deepworks.models.registry import register_model
from deepworks.models.seq2seq import Memory, Seq2Seq, source_mask, vocab_sizes
from deepworks.models.transformer import sinusoidal_positions


@dataclass
class TransformerSeq2SeqParams:
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 3
    ff_dim: int = 512
    dropout: float = 0.1


class TransformerSeq2Seq(Seq2Seq):
    tags = frozenset({"attention"})

    def __init__(self, schema: Schema, p: TransformerSeq2SeqParams) -> None:
        super().__init__(schema)
        n_source, n_target, shared = vocab_sizes(schema)
        self.scale = math.sqrt(p.d_model)
        self.src_embed = nn.Embedding(n_source, p.d_model, padding_idx=0)
        self.tgt_embed = (
            self.src_embed if shared else nn.Embedding(n_target, p.d_model, padding_idx=0)
        )
        for embedding in dict.fromkeys([self.src_embed, self.tgt_embed]):  # in order: seeded
            nn.init.normal_(embedding.weight, std=p.d_model**-0.5)
        # Room for the longest source, and the longest target with <bos> and <eos>.
        positions = sinusoidal_positions(schema.input_shape[0] + 2, p.d_model)
        self.register_buffer("positions", positions, persistent=False)
        with warnings.catch_warnings():  # pre-norm layers cannot use nested tensors; it says so
            warnings.simplefilter("ignore", UserWarning)
            self.transformer = nn.Transformer(
                p.d_model, p.heads, p.encoder_layers, p.decoder_layers, p.ff_dim, p.dropout,
                batch_first=True, norm_first=True,
            )  # fmt: skip
        self.dropout = nn.Dropout(p.dropout)
        self.out = nn.Linear(p.d_model, n_target, bias=False)
        self.out.weight = self.tgt_embed.weight

    def _embed(self, embedding: nn.Embedding, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        positions = self.positions[start : start + ids.shape[1]]
        return self.dropout(embedding(ids) * self.scale + positions)

    def encode(self, src: torch.Tensor, trim: bool = True) -> Memory:
        mask = source_mask(src)
        if trim:
            width = int(mask.sum(1).max().clamp(min=1))
            src, mask = src[:, :width], mask[:, :width]
        states = self.transformer.encoder(
            self._embed(self.src_embed, src), src_key_padding_mask=~mask
        )
        return {"states": states, "mask": mask}

    def decode(self, memory: Memory, prefix: torch.Tensor, attention: bool = False):
        length = prefix.shape[1]
        # Boolean like the padding masks: True where a position may not look (its future).
        causal = torch.ones(length, length, dtype=torch.bool, device=prefix.device).triu(1)
        seen: dict[str, tuple] = {}
        last = self.transformer.decoder.layers[-1].multihead_attn
        hook = (
            last.register_forward_pre_hook(_keep_inputs(seen), with_kwargs=True)
            if attention
            else None
        )
        try:
            h = self.transformer.decoder(
                self._embed(self.tgt_embed, prefix),
                memory["states"],
                tgt_mask=causal,
                tgt_is_causal=True,
                tgt_key_padding_mask=prefix == 0,
                memory_key_padding_mask=~memory["mask"],
            )
        finally:
            if hook is not None:
                hook.remove()
        weights = None
        if attention:  # the last layer's cross-attention, averaged over heads
            query, key, padding = seen["inputs"]
            weights = last(query, key, key, key_padding_mask=padding, need_weights=True)[1]
        return self.out(h), weights

    def start(self, memory: Memory) -> Memory:
        """Each layer's cross-attention keys and values, projected once; empty self-attention
        caches."""
        state = {}
        for i, layer in enumerate(self.transformer.decoder.layers):
            state[f"cross_k{i}"] = _heads(layer.multihead_attn, memory["states"], 1)
            state[f"cross_v{i}"] = _heads(layer.multihead_attn, memory["states"], 2)
            state[f"self_k{i}"] = state[f"cross_k{i}"][:, :, :0]
            state[f"self_v{i}"] = state[f"cross_v{i}"][:, :, :0]
        return state

    def step(self, memory: Memory, state: Memory, token: torch.Tensor):
        """The new position alone through each pre-norm layer, its self-attention over the
        cached keys and values of every earlier position: what the full decoder computes for
        the last position (a test holds them equal), a step at a time."""
        x = self._embed(self.tgt_embed, token[:, None], state["self_k0"].shape[2])
        visible = memory["mask"][:, None, None, :]
        new = dict(state)
        for i, layer in enumerate(self.transformer.decoder.layers):
            h = layer.norm1(x)
            k = new[f"self_k{i}"] = torch.cat(
                [state[f"self_k{i}"], _heads(layer.self_attn, h, 1)], 2
            )
            v = new[f"self_v{i}"] = torch.cat(
                [state[f"self_v{i}"], _heads(layer.self_attn, h, 2)], 2
            )
            x = x + layer.dropout1(_attend(layer.self_attn, _heads(layer.self_attn, h, 0), k, v))
            query = _heads(layer.multihead_attn, layer.norm2(x), 0)
            cross = _attend(
                layer.multihead_attn, query, state[f"cross_k{i}"], state[f"cross_v{i}"], visible
            )
            x = x + layer.dropout2(cross)
            hidden = layer.dropout(layer.activation(layer.linear1(layer.norm3(x))))
            x = x + layer.dropout3(layer.linear2(hidden))
        return self.out(self.transformer.decoder.norm(x))[:, 0], new


def _heads(attention: nn.MultiheadAttention, x: torch.Tensor, which: int) -> torch.Tensor:
    """Query (0), key (1) or value (2) projection of ``x`` (B, T, d), split into heads
    (B, heads, T, d / heads), with the layer's own weights."""
    d, heads = attention.embed_dim, attention.num_heads
    rows = slice(which * d, (which + 1) * d)
    projected = F.linear(x, attention.in_proj_weight[rows], attention.in_proj_bias[rows])
    return projected.view(len(x), -1, heads, d // heads).transpose(1, 2)


def _attend(attention: nn.MultiheadAttention, q, k, v, visible=None) -> torch.Tensor:
    """Scaled dot-product attention of split heads, merged and projected out."""
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=visible)
    return attention.out_proj(out.transpose(1, 2).reshape(len(q), -1, attention.embed_dim))


def _keep_inputs(seen: dict):
    def hook(module, args, kwargs):
        query, key = args[0], args[1]
        seen["inputs"] = (query, key, kwargs.get("key_padding_mask"))

    return hook


register_model(
    "transformer-seq2seq",
    TransformerSeq2SeqParams,
    ("parallel",),
    "Transformer encoder–decoder (torch.nn.Transformer)",
    tasks=("translation",),
)(TransformerSeq2Seq)
