"""Sentence pairs → token ids: a source vocabulary and a target one (or one shared), each fit on
the training split (word, character or subword level, see ``TextEncoder``) and saved with the
run. Targets are framed as ``<bos> … <eos>``; id 0 pads both sides."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from deepworks.core.encoder import Encoder, RequestFormat
from deepworks.core.errors import DataError, did_you_mean
from deepworks.data.datasets import TensorData
from deepworks.data.encoders import register_encoder
from deepworks.data.tables import read_table
from deepworks.modalities.text.encoder import EOS, TextEncoder, check_texts

BOS = "<bos>"


@register_encoder("parallel")
@dataclass
class PairEncoder(Encoder):
    source: dict[str, Any]  # the source side's TextEncoder state
    target: dict[str, Any] | None = None  # the target side's; None: shared with the source
    target_column: str = "target"
    kind: str = "parallel"
    request = RequestFormat(
        many="texts", one="text", item=str, help='{"text": "..."}; batch: {"texts": [...]}'
    )

    @classmethod
    def fit(
        cls,
        sources: Sequence[str],
        targets: Sequence[str],
        cfg: Any,
        source_column: str,
        target_column: str,
        max_chars: int,
    ) -> PairEncoder:
        """Vocabularies from the training pairs: one over both sides when ``cfg.shared``."""
        specials = (BOS, EOS)
        if cfg.shared or cfg.level == "pretrained":  # a pretrained model has one vocabulary
            both = TextEncoder.fit([*sources, *targets], cfg, source_column, specials, max_chars)
            return cls(both.to_dict(), None, target_column)
        src = TextEncoder.fit(sources, cfg, source_column, max_chars=max_chars)
        tgt = TextEncoder.fit(targets, cfg, target_column, specials, max_chars)
        return cls(src.to_dict(), tgt.to_dict(), target_column)

    @property
    def src(self) -> TextEncoder:
        if getattr(self, "_src", None) is None:
            self._src = TextEncoder.from_dict(self.source)
        return self._src

    @property
    def tgt(self) -> TextEncoder:
        if getattr(self, "_tgt", None) is None:
            self._tgt = TextEncoder.from_dict(self.target) if self.target else self.src
        return self._tgt

    @cached_property  # looked up per token when decoding: a vocabulary scan only once
    def bos(self) -> int:
        return self.tgt.vocab.index(BOS)

    @cached_property
    def eos(self) -> int:
        return self.tgt.eos_id(self.tgt.vocab)  # <eos>, or a pretrained tokenizer's own

    @property
    def lowercase(self) -> bool:
        return self.tgt.lowercase

    def encode_sources(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, longest) source ids, each cut to ``max_length`` and right-padded with 0."""
        return _padded([self.src.token_ids(t)[: self.src.max_length] for t in texts])

    def encode_targets(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, longest + 2) target ids framed as <bos> … <eos>, right-padded with 0."""
        cut = self.tgt.max_length
        ids = (self.tgt.token_ids(t, specials=False)[:cut] for t in texts)
        return _padded([[self.bos, *row, self.eos] for row in ids])

    def decode(self, ids: Sequence[int]) -> str:
        """Target ids → text, up to the first <eos> (padding and <bos> skipped)."""
        kept = []
        for i in ids:
            if i == self.eos:
                break
            if i not in (0, self.bos):
                kept.append(int(i))
        return self.tgt.detokenize(kept)

    # -- new inputs --------------------------------------------------------------------
    def texts_in(self, inputs: Any) -> list[str]:
        """Texts from a list, a DataFrame or a table file with the source column, or a .txt
        file with a sentence a line."""
        if isinstance(inputs, str | Path) and Path(inputs).suffix == ".txt":
            return read_lines(Path(inputs))
        return self.src.texts_in(inputs)

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        texts = self.texts_in(inputs)
        chunks = (texts[i : i + size] for i in range(0, len(texts), size))
        return list(range(len(texts))), (self.encode_sources(c) for c in chunks)

    def request_inputs(self, items: list[Any]) -> Any:
        return list(items)

    def novelty(self, inputs: Any) -> list[str] | None:
        return self.src.novelty(inputs)

    def labelled(self, path: Path, schema: Any) -> TensorData:
        """A table with the source and target columns the run was trained on."""
        frame = read_table(path)
        if self.target_column not in frame.columns:
            hint = did_you_mean(self.target_column, [str(c) for c in frame.columns])
            raise DataError(f"{path}: no translation column `{self.target_column}`.{hint}")
        sources = self.src.texts_of(frame, str(path))
        targets = check_texts(frame[self.target_column], str(path), self.target_column)
        return TensorData(self.encode_sources(sources), self.encode_targets(targets))


def _padded(rows: list[list[int]]) -> torch.Tensor:
    """Id rows right-padded with 0 to the longest (at least one column)."""
    ids = pad_sequence([torch.as_tensor(r, dtype=torch.long) for r in rows], batch_first=True)
    return ids if ids.shape[1] else torch.zeros(len(rows), 1, dtype=torch.long)


def read_lines(path: Path) -> list[str]:
    """A text file's lines; a missing file, bytes that are not UTF-8 or an empty line is an
    error naming the file and line."""
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; expected one sentence a line")
    lines = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise DataError(
                    f"{path} line {number} is not UTF-8 text; re-save the file as UTF-8"
                ) from None
            if not line.strip():
                raise DataError(
                    f"{path} line {number} is empty: every line must hold a sentence (remove "
                    "the line here and in the other file)"
                )
            lines.append(line)
    if not lines:
        raise DataError(f"{path} is empty; expected one sentence a line")
    return lines
