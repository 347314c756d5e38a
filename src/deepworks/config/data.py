"""The `data:` section: which data, how it is split, tokenized, windowed and augmented."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

# kind ("dataset", "model", ...) → its registry; what a loader passes as validation context.
from deepworks.config.base import _check_registered, _Section


class SplitConfig(_Section):
    """Fractions held out for validation and test; the rest trains. Stratified by class."""

    valid: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitConfig:
        if self.valid + self.test >= 0.9:
            raise ValueError(
                f"valid + test = {self.valid + self.test:.2f} leaves too little to train on; "
                "keep their sum below 0.9"
            )
        return self


class TokenizerConfig(_Section):
    """The built-in vocabulary, fit on the training split only."""

    level: Literal["word", "char", "bpe", "unigram", "pretrained"] = Field(
        "word",
        description="word, char, bpe / unigram (subwords learned from the training split with "
        "Hugging Face tokenizers, `max_vocab` of them), or pretrained: a Hugging Face tokenizer",
    )
    pretrained: str | None = Field(
        None, description="pretrained: a tokenizer.json, a folder holding one, or a hub name."
    )
    max_length: int = Field(256, gt=0, description="Tokens kept per text (the rest is cut).")
    max_vocab: int = Field(20000, gt=2, description="The most frequent tokens kept.")
    min_freq: int = Field(1, gt=0, description="Rarer tokens become <unk>.")
    lowercase: bool = True
    shared: bool = Field(
        False, description="Translation: one vocabulary for the source and target texts."
    )


class SeriesConfig(_Section):
    """Forecasting: windows of past values → the next `horizon` steps, split in time order.
    Sequence classification: `layout` says how a table holds one labelled series per example."""

    window: int = Field(24, gt=0, description="Past steps the model sees.")
    horizon: int = Field(1, gt=0, description="Future steps it predicts.")
    season: int | None = Field(
        None, gt=0, description="Season length for seasonal-naive and MASE; default: dataset's."
    )
    time: str | None = Field(None, description="A column to order rows by (CSV).")
    features: list[str] = Field(
        default_factory=list, description="Extra input columns (multivariate input)."
    )
    layout: Literal["wide", "long"] | None = Field(
        None,
        description="Sequence classification: `wide` = one series per row (its columns in "
        "order); `long` = one row per step, grouped by `id`.",
    )
    id: str | None = Field(None, description="long layout: the column naming each series.")


class RatingsConfig(_Section):
    """Recommendation: the columns of a ratings table (one row per user–item rating)."""

    user: str = Field("user", description="The column naming the user.")
    item: str = Field("item", description="The column naming the item.")
    rating: str = Field("rating", description="The column holding the rating.")
    time: str | None = Field(
        None, description="A column to order each user's ratings by (default: file order)."
    )
    title: str | None = Field(None, description="An item-name column, shown by `recommend`.")


class AugmentConfig(_Section):
    """Training-split augmentation, reproducible from the seed. Each key applies to one kind
    of data; the defaults leave the data as it is."""

    # images
    flip: bool = Field(False, description="images: random horizontal flip.")
    rotate: float = Field(0.0, ge=0, le=180, description="images: random rotation, ± degrees.")
    crop: float | None = Field(
        None, gt=0, le=1, description="images: random resized crop keeping at least this area."
    )
    color: float = Field(0.0, ge=0, description="images: colour jitter strength (0.2: mild).")
    randaugment: bool = Field(False, description="images: RandAugment (2 ops, magnitude 9).")
    mixup: float = Field(0.0, ge=0, description="images: MixUp alpha (0: off).")
    cutmix: float = Field(0.0, ge=0, description="images: CutMix alpha (0: off).")
    # text
    token_dropout: float = Field(
        0.0, ge=0, lt=1, description="text: share of tokens replaced by <unk>."
    )
    swap: float = Field(0.0, ge=0, lt=1, description="text: share of adjacent tokens swapped.")
    # series
    jitter: float = Field(0.0, ge=0, description="series: Gaussian noise, in standard units.")
    scale: float = Field(0.0, ge=0, description="series: amplitude × N(1, scale) per series.")
    warp: float = Field(
        0.0, ge=0, lt=1, description="series: a quarter of the window stretched by ± this."
    )
    # audio
    noise: float | None = Field(
        None, description="audio: add white noise at this signal-to-noise ratio (dB), or less."
    )
    shift: float = Field(0.0, ge=0, description="audio: random time shift of up to ± seconds.")
    specaugment: bool = Field(
        False, description="audio: SpecAugment — two frequency and two time masks."
    )


class DataConfig(_Section):
    dataset: str = Field(
        description="A built-in dataset (`deepworks datasets`), or `csv`, `parquet`, `jsonl`, "
        "`image-folder`, `text-folder` for your own files."
    )
    path: Path | None = Field(None, description="File or folder, for your own data.")
    target: str | None = Field(None, description="Target column of a table.")
    columns: dict[
        str, Literal["feature", "id", "drop", "date", "text", "categorical", "numeric"]
    ] = Field(
        default_factory=dict,
        description="Tables: a role or type per column — `id` and `drop` never reach the model "
        "(an id names the rows `predict` writes), `date` becomes calendar features, `text` "
        "goes through the text encoder's word vocabulary as TF-IDF features, "
        "`categorical` / `numeric` force the encoding. Columns not named are detected.",
    )
    max_categories: int = Field(
        30,
        gt=0,
        description="Tables: the most frequent categories one-hot encoded per column; "
        "rarer ones share one slot (no thousands of columns from a high-cardinality column).",
    )
    text: str | None = Field(None, description="Text column: makes a CSV / JSONL text data.")
    source: str | None = Field(
        None,
        description="Translation: the source-text column of a CSV / TSV / JSONL table; "
        "`data.target` is the translation's column.",
    )
    target_path: Path | None = Field(
        None,
        description="Translation from two aligned text files: `data.path` holds the source "
        "sentences, this file their translations, one a line.",
    )
    subset: str | None = Field(
        None,
        description="A Hugging Face dataset's configuration (`load_dataset(path, subset)`), "
        "e.g. en-fr for Helsinki-NLP/opus_books.",
    )
    audio: str | None = Field(
        None, description="Column of WAV file paths: makes a CSV / JSONL audio data."
    )
    audio_features: Literal["log-mel", "waveform"] = Field(
        "log-mel",
        description="Speech: what the model reads — log-mel spectrograms, or the waveform "
        "itself (set by the models that need it, such as wav2vec2-ctc).",
    )
    transcript: str | None = Field(
        None,
        description="Speech recognition: the transcript column of a CSV / JSONL whose "
        "`data.audio` column (default `path`) names the WAV clips.",
    )
    anomalous: list[str] = Field(
        default_factory=list,
        description="task: anomaly — the classes that are anomalies; training sees none of them.",
    )
    ratings: RatingsConfig | None = Field(
        None, description="Makes a CSV / Parquet / JSONL ratings data (task: recommendation)."
    )
    tokenizer: TokenizerConfig = TokenizerConfig()
    series: SeriesConfig = SeriesConfig()
    image_size: int | tuple[int, int] | None = Field(
        None, description="Resize images to this size (an int for square, or [height, width])."
    )
    channels: Literal[1, 3] = Field(3, description="Image folder: 1 = grayscale, 3 = RGB.")
    max_image_pixels: int = Field(
        50_000_000,
        gt=0,
        description="The largest image (width × height) read from a file or a request; a larger "
        "one is refused before it is decoded (a decompression bomb costs memory, not data).",
    )
    max_text_chars: int = Field(
        100_000, gt=0, description="The longest text read from a file or a request (characters)."
    )
    max_clip_seconds: float = Field(
        600.0,
        gt=0,
        description="The longest audio clip read from a file or a request; a "
        "longer one is refused from its header, before its samples are read.",
    )
    environment: str | None = Field(
        None,
        description="Reinforcement learning (`dataset: gymnasium`): a registered Gymnasium "
        "id, e.g. CartPole-v1, Acrobot-v1, Pendulum-v1.",
    )
    steps_per_epoch: int = Field(
        10_000,
        gt=0,
        description="Environments: environment steps in one epoch (each epoch ends with "
        "`data.episodes` evaluation episodes).",
    )
    episodes: int = Field(
        10, gt=0, description="Environments: evaluation episodes at the end of each epoch."
    )
    limit: int | None = Field(
        None, gt=0, description="Use a stratified sample of this many examples (quick tries)."
    )
    split: SplitConfig = SplitConfig()
    augment: AugmentConfig = AugmentConfig()
    train_size: int | None = Field(
        None,
        gt=0,
        description="Keep only this many training examples (stratified) while valid and test "
        "stay whole: how a model does with little labelled data.",
    )
    batch_size: int = Field(
        64,
        gt=0,
        description="Examples per training step; environments: the environment steps one "
        "round of acting collects before the agent learns from them (all its copies together).",
    )
    eval_batch_size: int = Field(256, gt=0)
    num_workers: int = Field(0, ge=0)
    bucket: bool = Field(
        False,
        description="Train on batches of texts (or sentence pairs) of similar length, each "
        "cut to its longest: less padding to compute. The order stays a function of (seed, "
        "epoch), so resuming stays exact.",
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, name: str, info: ValidationInfo) -> str:
        return _check_registered("dataset", name, info)
