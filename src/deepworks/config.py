"""The experiment schema: one pydantic model, loaded from YAML, exported as JSON Schema.

Every section forbids unknown keys, so a typo is an error that names the field and suggests the
fix. Names that point into a registry (dataset, model, task, optimizer, scheduler) are checked
at load time, rather than minutes into a run, by whoever loads the config with the registries
at hand (``catalog.load_config``): this module imports only the core, so the schema never
depends on what it names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deepworks.core.errors import ConfigError, DeepworksError, did_you_mean
from deepworks.core.params import parse_params
from deepworks.core.registry import Registry

# kind ("dataset", "model", ...) → its registry; what a loader passes as validation context.
Registries = Callable[[str], Registry]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _registries(info: ValidationInfo) -> Registries | None:
    return (info.context or {}).get("registries")


def _check_registered(kind: str, name: str, info: ValidationInfo) -> str:
    """Validate ``name`` against the registry of ``kind`` when the loader gave the
    registries; the message lists close names."""
    registries = _registries(info)
    if registries is not None:
        try:
            registries(kind).entry(name)
        except DeepworksError as exc:
            raise ValueError(str(exc)) from None
    return name


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

    level: Literal["word", "char", "pretrained"] = Field(
        "word", description="word, char, or pretrained: a Hugging Face tokenizer"
    )
    pretrained: str | None = Field(
        None, description="pretrained: a tokenizer.json, a folder holding one, or a hub name."
    )
    max_length: int = Field(256, gt=0, description="Tokens kept per text (the rest is cut).")
    max_vocab: int = Field(20000, gt=2, description="The most frequent tokens kept.")
    min_freq: int = Field(1, gt=0, description="Rarer tokens become <unk>.")
    lowercase: bool = True


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
    text: str | None = Field(None, description="Text column: makes a CSV / JSONL text data.")
    audio: str | None = Field(
        None, description="Column of WAV file paths: makes a CSV / JSONL audio data."
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
    batch_size: int = Field(64, gt=0)
    eval_batch_size: int = Field(256, gt=0)
    num_workers: int = Field(0, ge=0)

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, name: str, info: ValidationInfo) -> str:
        return _check_registered("dataset", name, info)


class ModelConfig(BaseModel):
    """`name` picks a registered model; every other key is one of that model's parameters."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(description="A registered model (`deepworks models`).")

    @model_validator(mode="after")
    def _known_model_and_params(self, info: ValidationInfo) -> ModelConfig:
        registries = _registries(info)
        if registries is None:
            return self
        _check_registered("model", self.name, info)
        params_cls = registries("model").entry(self.name).meta["params"]
        fields = {f.name for f in dataclasses.fields(params_cls)}
        for key in self.params:
            if key not in fields:
                raise ValueError(
                    f"model `{self.name}` has no parameter `{key}`.{did_you_mean(key, fields)} "
                    f"Its parameters: {', '.join(sorted(fields)) or 'none'}."
                )
        parse_params(params_cls, self.params, f"model `{self.name}`")
        return self

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class OptimizerConfig(_Section):
    name: str = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, description="SGD only.")
    betas: tuple[float, float] = Field(
        (0.9, 0.999), description="Adam / AdamW; GANs train better with [0.5, 0.999]."
    )

    @field_validator("name")
    @classmethod
    def _known(cls, name: str, info: ValidationInfo) -> str:
        return _check_registered("optimizer", name, info)


class SchedulerConfig(_Section):
    name: str = Field(description="cosine, onecycle or step.")
    step_size: int = Field(10, gt=0, description="step: epochs between decays.")
    gamma: float = Field(0.1, gt=0, description="step: decay factor.")
    pct_start: float = Field(0.3, gt=0, lt=1, description="onecycle: share of warm-up.")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str, info: ValidationInfo) -> str:
        return _check_registered("scheduler", name, info)


class EarlyStoppingConfig(_Section):
    patience: int = Field(5, gt=0, description="Epochs without improvement before stopping.")
    monitor: str | None = Field(None, description="A validation metric; default: the task's.")
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = Field(True, description="End with the best epoch's weights.")


class TrainConfig(_Section):
    epochs: int = Field(10, gt=0)
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig | None = None
    early_stopping: EarlyStoppingConfig | None = None
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm to this.")
    checkpoint_every_steps: int | None = Field(
        None, gt=0, description="Also checkpoint every N optimizer steps (always every epoch)."
    )
    threads: int | None = Field(None, gt=0, description="CPU threads for PyTorch.")
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"
    precision: Literal["32", "bf16", "fp16"] = Field(
        "32",
        description="Mixed precision: the training step under autocast in bf16 or fp16 (with "
        "a gradient scaler); evaluation stays fp32.",
    )
    compile: bool = Field(False, description="torch.compile the model for training.")
    channels_last: bool = Field(
        False, description="Image models: channels-last memory layout (faster convolutions)."
    )


class EvaluateConfig(_Section):
    main_metric: str | None = Field(
        None, description="The metric shown in `deepworks runs`; default: the task's."
    )
    target_precision: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Classifiers: the precision selective prediction must reach; rows below "
        "the confidence threshold chosen on valid are referred to a human.",
    )
    cv: int | None = Field(
        None,
        ge=2,
        description="k-fold cross-validation on train + valid (test untouched): mean ± std.",
    )
    baselines: bool | list[str] = Field(
        True,
        description="Traditional-ML baselines trained on the same split for the leaderboard: "
        "true (all that fit), false, or a list of names.",
    )
    explain: int = Field(
        4,
        ge=0,
        description="Classification / regression: explain this many test examples into "
        "explanations/ and the report (0: none).",
    )
    slices: str | None = Field(
        None,
        description="Table or text data: a column of the data file to score the test split "
        "per group of (a bias check); numbers with many values are cut into quartiles.",
    )


class DeployConfig(_Section):
    """Tolerances the deployment card (`deepworks export`) checks each exported form against."""

    max_metric_drop: float = Field(
        0.01,
        ge=0,
        description="How much worse than eager PyTorch the test main metric may get (absolute).",
    )
    max_parity: float = Field(
        1e-4,
        gt=0,
        description="Largest absolute output difference from PyTorch allowed for fp32 exports.",
    )
    max_latency_ms: float | None = Field(
        None, gt=0, description="Batch-1 p99 latency each form must stay under (none: no check)."
    )


class DistillConfig(_Section):
    """Train this run's (smaller) model on a finished run's outputs as well as the labels."""

    teacher: str = Field(
        description="The teacher: a run folder or id (classification or "
        "regression, same data section)."
    )
    temperature: float = Field(4.0, gt=0, description="Softens both models' outputs.")
    alpha: float = Field(
        0.7, ge=0, le=1, description="Weight of matching the teacher (the rest: the labels)."
    )


class ExperimentConfig(_Section):
    """A whole experiment: what data, which model, which task, how to train and evaluate."""

    name: str | None = Field(None, description="Part of the run id; default: dataset-model.")
    seed: int = 0
    task: str = Field(
        "auto",
        description="A registered task (`deepworks tasks`), or `auto`: the data's natural one.",
    )
    data: DataConfig
    model: ModelConfig
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    deploy: DeployConfig = DeployConfig()
    distill: DistillConfig | None = None

    @field_validator("task")
    @classmethod
    def _known_task(cls, name: str, info: ValidationInfo) -> str:
        return name if name == "auto" else _check_registered("task", name, info)

    @model_validator(mode="after")
    def _model_tokenizer(self, info: ValidationInfo) -> ExperimentConfig:
        """A pretrained text encoder reads only its own tokens: tokenize the data with its
        tokenizer unless the config names a pretrained tokenizer itself."""
        registries = _registries(info)
        if registries is None:
            return self
        tokenizer_of = registries("model").entry(self.model.name).meta.get("tokenizer")
        if tokenizer_of and self.data.tokenizer.level != "pretrained":
            self.data.tokenizer = self.data.tokenizer.model_copy(
                update={"level": "pretrained", "pretrained": tokenizer_of(self.model.params)}
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


# --------------------------------------------------------------------------- loading


def _section_fields(loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` (for suggestions on an unknown key)."""
    cls: Any = ExperimentConfig
    for part in loc:
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        cls = _model_in(field.annotation)
        if cls is None:
            return []
    return list(cls.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, getattr(__import__("types"), "UnionType", Union)):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            hint = did_you_mean(key, _section_fields(loc[:-1]))
            lines.append(f"unknown key `{where}`.{hint or ' Remove it or check the docs.'}")
        elif err["type"] == "missing":
            lines.append(f"`{where}` is required but missing.")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = (
                ""
                if isinstance(got, dict | list) or err["type"] == "value_error"
                else (f" (got {got!r})")
            )
            lines.append(f"`{where}`: {msg}{shown}.".replace("..", "."))
    head = f"invalid config {source}: " if len(lines) == 1 else f"invalid config {source}:\n  "
    return head + "\n  ".join(lines)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=3`` → (["train", "epochs"], 3); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override `{text}` must look like key.path=value (e.g. train.epochs=3)")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override `{text}`: `{k}` is not a section")
        node[keys[-1]] = value
    return raw


def load_config(
    source: str | Path | dict[str, Any] | ExperimentConfig,
    overrides: list[str] | None = None,
    registries: Registries | None = None,
) -> ExperimentConfig:
    """Read and validate an experiment from a YAML path, a dict or a config object; with
    ``registries`` (kind → Registry) the names it points to are checked too.

    >>> cfg = load_config({"data": {"dataset": "iris"}, "model": {"name": "mlp"}})
    >>> cfg.train.epochs
    10
    """
    if isinstance(source, ExperimentConfig):
        if not overrides:
            return source
        source = source.to_dict()
    if isinstance(source, dict):
        raw, where = dict(source), "(dict)"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"config file {path} is not valid YAML{at}: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must be a YAML mapping (key: value lines)")
    raw = apply_overrides(raw, overrides or [])
    try:
        return ExperimentConfig.model_validate(raw, context={"registries": registries})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where)) from None


def json_schema() -> dict[str, Any]:
    return ExperimentConfig.model_json_schema()
