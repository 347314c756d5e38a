"""The encoder–decoder contract every translation model keeps, so one decoding routine (greedy,
beam search) and one training step serve them all:

- ``encode(src)`` → the memory: a dict of batch-first tensors (beam search repeats its rows);
- ``decode(memory, prefix)`` → next-token logits at every prefix position (B, t, V), or at the
  last alone (``last``: what decoding needs), and, asked for, the attention of each output
  position over the source (B, t, S);
- ``start(memory)`` and ``step(memory, state, token)`` → the next token's logits (B, V), one
  token at a time with the model's own state (an RNN's hidden state, a Transformer's per-layer
  cache): decoding costs a step per token, not a pass over the whole prefix. Like the memory,
  the state is a dict of batch-first tensors;
- ``forward(src, prefix)`` → the teacher-forced logits, what training and export use.
"""

from __future__ import annotations

import torch
from torch import nn

from deepworks.core.encoder import end_token_id
from deepworks.core.model import Model
from deepworks.core.schema import Schema

Memory = dict[str, torch.Tensor]


class Seq2Seq(Model):
    def __init__(self, schema: Schema | None = None) -> None:
        super().__init__()
        if schema is not None:  # the target side's framing tokens
            vocab = (schema.encoder.get("target") or schema.encoder["source"])["vocab"]
            self.bos, self.eos = vocab.index("<bos>"), end_token_id(vocab)
            # An exported graph's fixed width: the longest source, or target with its framing.
            self.export_width = schema.input_shape[0] + 2

    def encode(self, src: torch.Tensor, trim: bool = True) -> Memory:
        """``trim``: cut the batch to its longest source (an exported graph keeps every
        column: a traced cut would be fixed to the tracing batch's width)."""
        raise NotImplementedError

    def decode(
        self, memory: Memory, prefix: torch.Tensor, attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def start(self, memory: Memory) -> Memory:
        """The decoding state before the first token."""
        raise NotImplementedError

    def step(self, memory: Memory, state: Memory, token: torch.Tensor):
        """(logits (B, V) of the token after ``token`` (B,), the state that includes it)."""
        raise NotImplementedError

    def forward(self, src: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(src), prefix)[0]

    # -- export: the teacher-forced pass as one graph of a fixed width (a traced graph keeps
    # the lengths it was traced at); decoding stays in Python ------------------------------
    def exported_part(self) -> nn.Module:
        return TeacherForced(self)

    def export_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Each source stacked with <bos> and the translation it writes greedily: real
        prefixes."""
        written = greedy(self, x, self.bos, self.eos, self.export_width - 1)
        prefix = torch.cat([torch.full_like(written[:, :1], self.bos), written], 1)
        return stacked(x, prefix, self.export_width)

    def around_exported(self, runtime: nn.Module) -> nn.Module:
        return ExportedSeq2Seq(runtime, self.export_width)


class TeacherForced(nn.Module):
    """(B, 2, L): sources stacked with prefixes (both padded with 0) → logits (B, L, V)."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.decode(self.model.encode(x[:, 0], trim=False), x[:, 1])[0]


class ExportedSeq2Seq(Seq2Seq):
    """An encoder–decoder whose logits all come from an exported teacher-forced graph: a
    decoding step runs it on the source and the whole prefix so far (no cache), both padded
    to the graph's width."""

    def __init__(self, runtime: nn.Module, width: int) -> None:
        super().__init__()
        self.runtime, self.width = runtime, width

    def encode(self, src: torch.Tensor, trim: bool = True) -> Memory:
        return {"src": src}

    def decode(self, memory: Memory, prefix: torch.Tensor, attention: bool = False):
        logits = self.runtime(stacked(memory["src"], prefix, self.width)).float()
        return logits[:, : prefix.shape[1]], None

    def start(self, memory: Memory) -> Memory:
        return {"prefix": memory["src"][:, :0]}

    def step(self, memory: Memory, state: Memory, token: torch.Tensor):
        prefix = torch.cat([state["prefix"], token[:, None]], dim=1)
        return self.decode(memory, prefix)[0][:, -1], {"prefix": prefix}


def stacked(src: torch.Tensor, prefix: torch.Tensor, width: int) -> torch.Tensor:
    """(B, 2, width): the two padded with 0."""
    pad = lambda t: nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
    return torch.stack([pad(src), pad(prefix)], dim=1)


@torch.inference_mode()
def greedy(model: Seq2Seq, src: torch.Tensor, bos: int, eos: int, max_length: int):
    """The most likely next token at every step, until every row has written <eos>: (B, T)
    ids after <bos>, each row ending at its <eos> and padded with 0."""
    memory = model.encode(src)
    state = model.start(memory)
    token = torch.full((len(src),), bos, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    written = []
    for _ in range(max_length):
        logits, state = model.step(memory, state, token)
        logits[:, [0, bos]] = float("-inf")  # never padding, never a second <bos>
        token = logits.argmax(-1).masked_fill(done, 0)
        written.append(token)
        done |= token == eos
        if done.all():
            break
    return torch.stack(written, 1)


def vocab_sizes(schema: Schema) -> tuple[int, int, bool]:
    """(source vocabulary, target vocabulary, shared) from a parallel-text schema."""
    source = len(schema.encoder["source"]["vocab"])
    shared = schema.encoder.get("target") is None
    return source, schema.n_outputs, shared


def source_mask(src: torch.Tensor) -> torch.Tensor:
    """True at the source's real tokens (id 0 pads)."""
    return src != 0
