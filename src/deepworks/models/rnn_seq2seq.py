"""A recurrent encoder–decoder with attention (Bahdanau et al. 2015; Luong et al. 2015): a
bidirectional GRU or LSTM reads the source; a one-layer decoder writes the target a token at a
time, attending over the source at each step and feeding the last context back in (input
feeding)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from deepworks.core.errors import ModelError
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model
from deepworks.models.seq2seq import Memory, Seq2Seq, source_mask, vocab_sizes


@dataclass
class RnnSeq2SeqParams:
    cell: Literal["gru", "lstm"] = "gru"
    attention: Literal["bahdanau", "luong"] = "bahdanau"
    embed: int = 128
    hidden: int = 256
    layers: int = 1  # encoder layers
    dropout: float = 0.1


class Attention(nn.Module):
    """Scores of a decoder state against every source position: additive (Bahdanau) or
    bilinear "general" (Luong); padding never attended."""

    def __init__(self, kind: str, query: int, keys: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "bahdanau":
            self.keys, self.query = nn.Linear(keys, query, bias=False), nn.Linear(query, query)
            self.v = nn.Linear(query, 1, bias=False)
        else:
            self.keys = nn.Linear(keys, query, bias=False)

    def project(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.keys(outputs)  # once per source, reused at every step

    def forward(self, state: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor):
        if self.kind == "bahdanau":
            scores = self.v(torch.tanh(keys + self.query(state)[:, None])).squeeze(-1)
        else:
            scores = torch.einsum("bsh,bh->bs", keys, state)
        return scores.masked_fill(~mask, float("-inf")).softmax(-1)


class RnnSeq2Seq(Seq2Seq):
    tags = frozenset({"attention"})

    def __init__(self, schema: Schema, p: RnnSeq2SeqParams) -> None:
        super().__init__(schema)
        n_source, n_target, shared = vocab_sizes(schema)
        self.cell_kind = p.cell
        self.src_embed = nn.Embedding(n_source, p.embed, padding_idx=0)
        self.tgt_embed = (
            self.src_embed if shared else nn.Embedding(n_target, p.embed, padding_idx=0)
        )
        rnn = nn.GRU if p.cell == "gru" else nn.LSTM
        self.encoder = rnn(
            p.embed, p.hidden, p.layers, batch_first=True, bidirectional=True,
            dropout=p.dropout if p.layers > 1 else 0.0,
        )  # fmt: skip
        self.bridge = nn.Linear(2 * p.hidden, p.hidden)
        cell = nn.GRUCell if p.cell == "gru" else nn.LSTMCell
        self.cell = cell(p.embed + p.hidden, p.hidden)
        self.attend = Attention(p.attention, p.hidden, 2 * p.hidden)
        self.context = nn.Linear(2 * p.hidden, p.hidden, bias=False)
        self.combine = nn.Linear(2 * p.hidden, p.hidden)
        self.dropout = nn.Dropout(p.dropout)
        self.out = nn.Linear(p.hidden, n_target)

    def encode(self, src: torch.Tensor, trim: bool = True) -> Memory:
        mask = source_mask(src)
        if trim:
            width = int(mask.sum(1).max().clamp(min=1))
            src, mask = src[:, :width], mask[:, :width]
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.dropout(self.src_embed(src)), lengths, batch_first=True, enforce_sorted=False
        )
        outputs, _ = self.encoder(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(
            outputs, batch_first=True, total_length=src.shape[1]
        )
        # The decoder starts from the mean of the source's states.
        mean = (outputs * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return {
            "outputs": outputs,
            "keys": self.attend.project(outputs),
            "mask": mask,
            "start": torch.tanh(self.bridge(mean)),
        }

    def exported_part(self) -> nn.Module:
        raise ModelError(
            "rnn-attention cannot be exported yet: its decoder steps through the prefix in "
            "Python, which a traced graph would fix to one length; export a "
            "transformer-seq2seq, or serve this run in PyTorch (`deepworks serve`)"
        )

    def start(self, memory: Memory) -> Memory:
        zeros = torch.zeros_like(memory["start"])
        state = {"state": memory["start"], "feed": zeros}  # feed: the last attentional state
        return state | ({"cell": zeros} if self.cell_kind == "lstm" else {})

    def step(self, memory: Memory, state: Memory, token: torch.Tensor):
        logits, state, _ = self._step(memory, state, self.tgt_embed(token))
        return logits, state

    def _step(self, memory: Memory, state: Memory, embedded: torch.Tensor):
        step = torch.cat([self.dropout(embedded), state["feed"]], dim=-1)
        new: Memory = {}
        if self.cell_kind == "lstm":
            new["state"], new["cell"] = self.cell(step, (state["state"], state["cell"]))
        else:
            new["state"] = self.cell(step, state["state"])
        alpha = self.attend(new["state"], memory["keys"], memory["mask"])
        context = torch.einsum("bs,bsh->bh", alpha, memory["outputs"])
        new["feed"] = torch.tanh(self.combine(torch.cat([new["state"], self.context(context)], -1)))
        return self.out(self.dropout(new["feed"])), new, alpha

    def decode(self, memory: Memory, prefix: torch.Tensor, attention: bool = False):
        state, logits, weights = self.start(memory), [], []
        embedded = self.tgt_embed(prefix)
        for t in range(prefix.shape[1]):
            step_logits, state, alpha = self._step(memory, state, embedded[:, t])
            logits.append(step_logits)
            weights.append(alpha)
        return torch.stack(logits, 1), torch.stack(weights, 1) if attention else None


register_model(
    "rnn-attention",
    RnnSeq2SeqParams,
    ("parallel",),
    "GRU / LSTM encoder–decoder with Bahdanau or Luong attention",
    tasks=("translation",),
)(RnnSeq2Seq)
