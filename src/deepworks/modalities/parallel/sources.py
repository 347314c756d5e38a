"""Where sentence pairs come from: a table with a source and a target column (CSV / TSV /
JSONL), two aligned text files, or a built-in corpus; and the bundle they make."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.lazy import lazy_module
from deepworks.data.bundle import DataBundle, assemble, register_builder
from deepworks.data.sources import Source, reads_tables, register_dataset
from deepworks.data.splits import split_indices, split_keeping_test
from deepworks.data.tables import need_column, need_path, need_target
from deepworks.modalities.parallel.encoder import PairEncoder, read_lines
from deepworks.modalities.parallel.hub import load_hub_dataset, pick_splits
from deepworks.modalities.parallel.numbers import LANGUAGES, number_pairs
from deepworks.modalities.parallel.reviews import review_pairs
from deepworks.modalities.text.encoder import check_texts

pd = lazy_module("pandas")  # imported on first use: most runs read no table


@dataclass
class PairSource(Source):
    modality: ClassVar[str] = "parallel"
    natural_task: ClassVar[str | None] = "translation"
    frame: pd.DataFrame
    source: str  # the source-text column
    target: str  # the translation column
    origin: str
    test_frame: pd.DataFrame | None = None  # a corpus's own test set, kept as the test split
    group: str | None = None  # pairs of one group (a review's sentences) share a split


@reads_tables(lambda cfg: cfg.source is not None)
def pair_table(frame: pd.DataFrame, cfg: DataConfig, path: Path) -> PairSource:
    source = need_column(frame, cfg.source, str(path), "source")
    return PairSource(frame, source, need_target(cfg, frame, str(path)), str(path))


@register_dataset(
    "text-pairs",
    "translation",
    "parallel",
    "two aligned text files: data.path (sources) and data.target_path (translations)",
    builtin=False,
)
def text_pairs(cfg: DataConfig) -> PairSource:
    """Line i of `data.path` translates to line i of `data.target_path`."""
    path = need_path(cfg, "source text file (one sentence a line)")
    if cfg.target_path is None:
        raise DataError(
            f"data.dataset `text-pairs` needs `data.target_path`: the file whose line i "
            f"translates line i of {path}"
        )
    sources, targets = read_lines(path), read_lines(cfg.target_path)
    if len(sources) != len(targets):
        shorter, longer = sorted([(len(sources), path), (len(targets), cfg.target_path)])
        raise DataError(
            f"{path} has {len(sources)} lines and {cfg.target_path} has {len(targets)}: the "
            f"files must be aligned line by line; line {shorter[0] + 1} of {longer[1]} has no "
            f"counterpart in {shorter[1]}"
        )
    frame = pd.DataFrame({"source": sources, "target": targets})
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="line")
    return PairSource(frame, "source", "target", f"{path} + {cfg.target_path}")


@register_dataset(
    "hf-pairs",
    "translation",
    "parallel",
    "a Hugging Face dataset: data.path (hub name or save_to_disk folder), data.subset, "
    "data.source and data.target (columns, or languages of a `translation` column)",
    builtin=False,
)
def hub_pairs(cfg: DataConfig) -> PairSource:
    origin = f"{cfg.path}" + (f" ({cfg.subset})" if cfg.subset else "")
    frame, test = pick_splits(load_hub_dataset(cfg), cfg, origin)
    return PairSource(frame, str(cfg.source), str(cfg.target), origin, test_frame=test)


def _numbers(lang: str):
    def load(cfg: DataConfig) -> PairSource:
        train, test = number_pairs(lang)
        return PairSource(train, "english", lang, f"numbers-{lang}", test_frame=test)

    return load


@register_dataset(
    "reviews-es",
    "translation",
    "parallel",
    "fine-foods review sentences → Spanish by Apertium (apertium-eng-spa)",
)
def reviews_es(cfg: DataConfig) -> PairSource:
    train, test = review_pairs()
    return PairSource(train, "english", "spanish", "reviews-es", test_frame=test, group="review")


for _lang, _name in LANGUAGES.items():
    register_dataset(
        f"numbers-{_lang}",
        "translation",
        "parallel",
        f"English number words → {_name} (num2words), number ranges held out for test",
    )(_numbers(_lang))


@register_builder("parallel", "translation")
def translation_bundle(src: PairSource, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    """Pairs split (a corpus's own test set kept, a group's pairs together), vocabularies fit
    on the training pairs."""
    frame = src.frame[[src.source, src.target]]
    groups = src.frame[src.group].to_numpy() if src.group else np.arange(len(frame))
    unique = np.unique(groups)  # what is split: groups (each pair its own by default)
    pool = np.arange(len(unique))
    if src.group and cfg.limit:  # `data.limit` counts pairs: whole groups, up to that many
        order = np.random.default_rng(seed).permutation(len(unique))
        sizes = np.cumsum(np.bincount(np.searchsorted(unique, groups))[order])
        pool = np.sort(order[: max(3, int(np.searchsorted(sizes, cfg.limit, side="right")))])
        cfg = cfg.model_copy(update={"limit": None})
    if src.test_frame is not None:
        frame = pd.concat([frame, src.test_frame[[src.source, src.target]]])
        train, valid = split_keeping_test(pool, None, cfg, seed, src.origin)
        test = np.arange(len(src.frame), len(frame))
    else:
        train, valid, test = (
            pool[i] for i in split_indices(len(pool), None, cfg, seed, src.origin)
        )
    if src.group:  # groups → their pairs
        train, valid = (np.flatnonzero(np.isin(groups, unique[g])) for g in (train, valid))
        test = test if src.test_frame is not None else np.flatnonzero(np.isin(groups, unique[test]))
    sources = check_texts(frame[src.source], src.origin, src.source, cfg.max_text_chars)
    targets = check_texts(frame[src.target], src.origin, src.target, cfg.max_text_chars)
    encoder = PairEncoder.fit(
        [sources[i] for i in train],
        [targets[i] for i in train],
        cfg.tokenizer,
        src.source,
        src.target,
        cfg.max_text_chars,
    )
    return assemble(
        encoder.encode_sources(sources),
        encoder.encode_targets(targets),
        (train, valid, test),
        frame.reset_index(drop=True),
        modality="parallel",
        task=task,
        target=src.target,
        encoder=encoder.to_dict(),
        origin=src.origin,
        input_shape=(cfg.tokenizer.max_length,),
        outputs=encoder.tgt.vocab_size,
    )
