"""Subword vocabularies learned from the training split (BPE or unigram) with Hugging Face
`tokenizers`: rare words split into known pieces instead of becoming <unk>, so a model can
read and write words it never saw whole (a German compound number, a misspelt review)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deepworks.core.errors import require


def train_subwords(
    texts: Iterable[str], level: str, vocab_size: int, min_freq: int, reserved: list[str]
) -> Any:
    """A `tokenizers.Tokenizer` of at most ``vocab_size`` pieces learned from ``texts``;
    ``reserved`` (padding, unknown, specials) take the first ids in their order. Spaces are
    kept as the "▁" marker (SentencePiece's Metaspace), so decoding restores the text."""
    tokenizers = require("tokenizers", "text", "subword vocabularies")
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    unk = reserved[1]
    if level == "bpe":
        tokenizer = tokenizers.Tokenizer(models.BPE(unk_token=unk))
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_freq, special_tokens=reserved,
            show_progress=False,
        )  # fmt: skip
    else:
        tokenizer = tokenizers.Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=reserved, unk_token=unk, show_progress=False
        )
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer
