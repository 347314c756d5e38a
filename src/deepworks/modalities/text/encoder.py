"""Text → token ids: a fast word- or character-level vocabulary fit on the training split, or
a Hugging Face tokenizer, saved as JSON with the run. Id 0 pads, id 1 stands for any token
outside the vocabulary."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.encoder import Encoder, RequestFormat, end_token_id
from deepworks.core.errors import DataError, did_you_mean, require
from deepworks.core.lazy import lazy_module
from deepworks.data.bundle import targets_for
from deepworks.data.datasets import TensorData
from deepworks.data.encoders import register_encoder
from deepworks.data.tables import (
    frame_of,
    origin_of,
    read_table,
)

pd = lazy_module("pandas")  # imported on first use: most runs read no table

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
NOVEL_UNKNOWN = 0.5  # share of a text's words outside the vocabulary that makes it novel
MAX_TEXT_CHARS = 100_000  # `data.max_text_chars`: what a run's encoder keeps by default
_WORD = re.compile(r"\w+|[^\w\s]")


@register_encoder("text")
@dataclass
class TextEncoder(Encoder):
    level: str = "word"
    lowercase: bool = True
    max_length: int = 256
    vocab: list[str] = field(default_factory=lambda: [PAD, UNK])
    text_column: str = "text"
    counts: list[int] = field(default_factory=list)  # training counts per token (LM baseline)
    hf_tokenizer: str | None = None  # level "pretrained": the Hugging Face tokenizer's own JSON
    pad_swap: int = 0  # its id that trades places with 0, so padding is always id 0
    max_chars: int = MAX_TEXT_CHARS  # a longer text is refused (`data.max_text_chars`)
    kind: str = "text"
    inputs = "tokens"

    def tokenize(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        return _WORD.findall(text) if self.level == "word" else list(text)

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        cfg: Any,
        text_column: str,
        specials: tuple[str, ...] = (),
        max_chars: int = MAX_TEXT_CHARS,
    ) -> TextEncoder:
        """Keep the most frequent tokens; ``specials`` (e.g. <eos>) follow <pad> and <unk>.
        A pretrained tokenizer brings its own vocabulary instead."""
        enc = cls(cfg.level, cfg.lowercase, cfg.max_length, text_column=text_column)
        enc.max_chars = max_chars
        if cfg.level == "pretrained":
            enc._adopt(load_hf_tokenizer(cfg.pretrained), specials)
            return enc
        if cfg.level in ("bpe", "unigram"):
            from deepworks.modalities.text.subwords import train_subwords

            lowered = (t.lower() if enc.lowercase else t for t in texts)
            reserved = [PAD, UNK, *specials]
            enc._adopt(train_subwords(lowered, cfg.level, cfg.max_vocab, cfg.min_freq, reserved))
            return enc
        counts = Counter(tok for t in texts for tok in enc.tokenize(t))
        reserved = [PAD, UNK, *specials]
        common = [
            t for t, c in counts.most_common(cfg.max_vocab - len(reserved)) if c >= cfg.min_freq
        ]
        enc.vocab = [*reserved, *common]
        return enc

    def _adopt(self, tokenizer: Any, specials: tuple[str, ...] = ()) -> None:
        vocab = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
        pad = next((vocab.index(t) for t in ("[PAD]", "<pad>") if t in vocab), None)
        if pad is None:
            vocab.append(PAD)
            pad = len(vocab) - 1
        vocab[0], vocab[pad] = vocab[pad], vocab[0]
        for special in specials:  # e.g. <bos> for translation; <eos> if it has no end token
            if special not in vocab and (special != EOS or self.eos_id(vocab) is None):
                vocab.append(special)
        self.vocab, self.pad_swap, self.hf_tokenizer = vocab, pad, tokenizer.to_str()

    @staticmethod
    def eos_id(vocab: list[str]) -> int | None:
        """The token that ends a text: <eos>, or a pretrained tokenizer's own."""
        return end_token_id(vocab)

    @property
    def blocked_ids(self) -> list[int]:
        """Ids never worth sampling: padding and the unknown token."""
        return [0, *(self.vocab.index(t) for t in (UNK, "[UNK]") if t in self.vocab)]

    def _swap(self, i: int) -> int:
        return self.pad_swap if i == 0 else 0 if i == self.pad_swap else i

    def _hf(self) -> Any:
        if getattr(self, "_tokenizer", None) is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_str(self.hf_tokenizer)
        return self._tokenizer

    def token_ids(self, text: str, specials: bool = True) -> list[int]:
        """All of a text's ids, uncut and unpadded; ``specials``: with the marks a pretrained
        tokenizer adds around a text (e.g. T5's closing </s>)."""
        if self.hf_tokenizer:
            text = text.lower() if self.lowercase else text
            ids = self._hf().encode(text, add_special_tokens=specials).ids
            return [self._swap(i) for i in ids]
        index = self._index()
        return [index.get(t, 1) for t in self.tokenize(text)]

    def _index(self) -> dict[str, int]:
        if getattr(self, "_lookup", None) is None or len(self._lookup) != len(self.vocab):
            self._lookup = {t: i for i, t in enumerate(self.vocab)}
        return self._lookup

    def detokenize(self, ids: Iterable[int]) -> str:
        if self.hf_tokenizer:
            return self._hf().decode(
                [self._swap(i) for i in ids if i < self._hf().get_vocab_size()]
            )
        tokens = [self.vocab[i] for i in ids]
        return ("".join if self.level == "char" else " ".join)(tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, texts: Iterable[str]) -> torch.Tensor:
        """(N, max_length) token ids, right-padded with 0."""
        texts = list(texts)
        ids = torch.zeros(len(texts), self.max_length, dtype=torch.long)
        for row, text in enumerate(texts):
            tokens = self.token_ids(text)[: self.max_length]
            ids[row, : len(tokens)] = torch.as_tensor(tokens, dtype=torch.long)
        return ids

    def texts_of(self, frame: pd.DataFrame, origin: str) -> list[str]:
        """The text column as strings; a missing column or an empty text is an error."""
        if self.text_column not in frame.columns:
            hint = did_you_mean(self.text_column, [str(c) for c in frame.columns])
            raise DataError(f"{origin}: no text column `{self.text_column}`.{hint}")
        return check_texts(frame[self.text_column], origin, self.text_column, self.max_chars)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # fields only: the cached tokenizer and lookup are not saved

    # -- new inputs --------------------------------------------------------------------
    request = RequestFormat(
        many="texts", one="text", item=str, help='{"text": "..."}; batch: {"texts": [...]}'
    )

    def batches(self, inputs: Any, size: int, schema: Any) -> tuple[list[Any], Iterator[Any]]:
        texts = self.texts_in(inputs)
        return list(range(len(texts))), iter(self.encode(texts).split(size))

    def request_inputs(self, items: list[Any]) -> Any:
        return list(items)

    def novelty(self, inputs: Any) -> list[str] | None:
        """A text whose words are mostly unknown to the vocabulary (another language, codes,
        noise) is unlike the training texts. Subword tokenizers know every word: no check."""
        if self.hf_tokenizer:
            return None
        reasons = []
        for text in self.texts_in(inputs):
            ids = self.token_ids(text)
            unknown = sum(i == 1 for i in ids) / max(len(ids), 1)
            novel = unknown > NOVEL_UNKNOWN and len(ids) >= 3
            reasons.append(f"{unknown:.0%} of its words were never seen in training" * novel)
        return reasons

    def texts_in(self, inputs: Any) -> list[str]:
        """Texts from a list of strings, a DataFrame, or a CSV / JSONL file with the text
        column."""
        if isinstance(inputs, list | tuple) and all(isinstance(t, str) for t in inputs):
            texts = pd.Series(list(inputs), dtype=object)
            return check_texts(texts, "input", "text", self.max_chars)
        frame = frame_of(inputs, [self.text_column])
        return self.texts_of(frame, origin_of(inputs))

    def labelled(self, path: Path, schema: Any) -> Any:
        frame = read_table(path)
        if schema.per_position:  # a language model: every next token of the texts
            return chunk_texts(self, self.texts_of(frame, str(path)), str(path))
        if schema.target not in frame.columns:
            raise DataError(f"{path}: no label column `{schema.target}` to evaluate against")
        x = self.encode(self.texts_of(frame, str(path)))
        return TensorData(x, targets_for(schema, frame[schema.target].to_numpy(), str(path)))


def load_hf_tokenizer(name: str) -> Any:
    """A Hugging Face tokenizer from a tokenizer.json, a folder holding one, or a hub name
    (the last needs the internet)."""
    tokenizers = require("tokenizers", "text", "pretrained tokenizers")
    path = Path(name)
    if path.is_dir():
        path = path / "tokenizer.json"
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise DataError(f"tokenizer file {path} does not exist")
        try:
            return tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # the library raises plain Exceptions for bad files
            raise DataError(f"{path} is not a Hugging Face tokenizer.json ({exc})") from None
    try:
        return tokenizers.Tokenizer.from_pretrained(name)
    except Exception as exc:
        raise DataError(
            f"cannot load tokenizer `{name}`: it is not a local file or folder, and fetching it "
            f"from the Hugging Face hub failed ({str(exc).splitlines()[0][:120]})"
        ) from None


def check_texts(
    series: pd.Series, origin: str, column: str, max_chars: int = MAX_TEXT_CHARS
) -> list[str]:
    """The column's texts; an empty one, or one over ``max_chars``, is refused by row."""
    lengths = series.astype(str).str.len()
    if (lengths > max_chars).any():
        row = series.index[(lengths > max_chars).to_numpy()][0]
        where = row + 1 if isinstance(row, int | np.integer) else row
        raise DataError(
            f"{origin}: column `{column}` row {where} holds a text of {lengths[row]:,} "
            f"characters, over the limit of {max_chars:,} (`data.max_text_chars`); shorten it "
            "or raise the limit"
        )
    empty = series.isna() | (series.astype(str).str.strip() == "")
    if empty.any():
        rows = ", ".join(
            str(i + 1) if isinstance(i, int | np.integer) else str(i)
            for i in series.index[empty.to_numpy()][:5]
        )
        raise DataError(
            f"{origin}: column `{column}` has {int(empty.sum())} empty text(s) (rows {rows}). "
            "Fill them or drop those rows."
        )
    return series.astype(str).tolist()


def chunk_texts(encoder: TextEncoder, texts: list[str], origin: str):
    """Texts joined by <eos> into one stream, cut into (input, input shifted by one) chunks."""
    length, eos = encoder.max_length, encoder.eos_id(encoder.vocab)
    stream = [i for text in texts for i in [*encoder.token_ids(text), eos]]
    if len(stream) < length + 1:
        raise DataError(
            f"{origin}: {len(stream)} tokens, fewer than one sequence of {length + 1}; lower "
            "`data.tokenizer.max_length` or add text"
        )
    ids = torch.as_tensor(stream, dtype=torch.long)
    n = (len(ids) - 1) // length
    return TensorData(ids[: n * length].view(n, length), ids[1 : n * length + 1].view(n, length))
