"""The experiment: model, training, evaluation, deployment and distillation sections."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

# kind ("dataset", "model", ...) → its registry; what a loader passes as validation context.
from deepworks.config.base import _check_registered, _registries, _Section
from deepworks.config.data import DataConfig
from deepworks.core.errors import did_you_mean
from deepworks.core.params import parse_params


def _check_params(params_cls: type, given: dict[str, Any], owner: str, noun: str) -> None:
    """Every key of ``given`` one of ``params_cls``'s fields (else the near miss and the
    list), every value of its type."""
    fields = {f.name for f in dataclasses.fields(params_cls)}
    for key in given:
        if key not in fields:
            raise ValueError(
                f"{owner} has no {noun} `{key}`.{did_you_mean(key, fields)} "
                f"Its {noun}s: {', '.join(sorted(fields)) or 'none'}."
            )
    parse_params(params_cls, given, owner)


@dataclasses.dataclass
class AutoParams:
    """`model: auto`: the families that fit the data, each with its preset settings."""

    budget: float = 1800.0  # seconds: no candidate starts after this (the first always runs)
    candidates: list[str] | None = None  # these families only (default: all that fit)


class ModelConfig(BaseModel):
    """`name` picks a registered model; every other key is one of that model's parameters."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(
        description="A registered model (`deepworks models`), or `auto`: each family that "
        "fits the data, with its preset settings, picked by validation (`budget`: seconds)."
    )

    @model_validator(mode="after")
    def _known_model_and_params(self, info: ValidationInfo) -> ModelConfig:
        registries = _registries(info)
        if self.name == "auto":
            _check_params(AutoParams, self.params, "model `auto`", "parameter")
            return self
        if registries is None:
            return self
        _check_registered("model", self.name, info)
        params_cls = registries("model").entry(self.name).meta["params"]
        _check_params(params_cls, self.params, f"model `{self.name}`", "parameter")
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
    monitor: str | None = Field(
        None,
        description="A validation metric; default: the loss (a task without one, such as an "
        "agent: its main metric).",
    )
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = Field(True, description="End with the best epoch's weights.")


class TrainConfig(_Section):
    epochs: int = Field(10, gt=0)
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig | None = None
    early_stopping: EarlyStoppingConfig | None = None
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm to this.")
    checkpoint_every_steps: int | None = Field(
        None, gt=0, description="Also checkpoint every N optimizer steps."
    )
    checkpoint_budget: float = Field(
        0.01,
        gt=0,
        le=1,
        description="The most of the training time that epoch-end checkpoints may take: an "
        "epoch's checkpoint is left out while the last one (or the start of training) is younger "
        "than its cost divided by this (epochs of a few milliseconds); 1 writes every epoch. "
        "Resuming is exact from any checkpoint.",
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


class TuneRange(_Section):
    """A range to search: numbers from `low` to `high` (integers when both are), on a log
    scale or in steps of `step` if asked."""

    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> TuneRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class ExperimentConfig(_Section):
    """A whole experiment: what data, which model, which task, how to train and evaluate."""

    name: str | None = Field(None, description="Part of the run id; default: dataset-model.")
    seed: int = Field(0, ge=0, lt=2**32, description="Seeds splits, weights and data order.")
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
    tune: dict[str, list[Any] | TuneRange] = Field(
        default_factory=dict,
        description="`deepworks tune`: the search space — a config key (dotted, e.g. "
        "train.optimizer.lr) → a list of values to choose from, or {low, high, log, step}.",
    )
    agent: dict[str, Any] = Field(
        default_factory=dict,
        description="Reinforcement learning and self-play: the agent's settings (the task's "
        "`Params`: discount, rollout, replay buffer, search, ...), type-checked.",
    )

    @field_validator("tune")
    @classmethod
    def _choices(cls, space: dict[str, Any]) -> dict[str, Any]:
        for key, spec in space.items():
            if isinstance(spec, list) and not spec:
                raise ValueError(f"tune: `{key}` lists no values to choose from")
        return space

    @field_validator("task")
    @classmethod
    def _known_task(cls, name: str, info: ValidationInfo) -> str:
        return name if name == "auto" else _check_registered("task", name, info)

    @model_validator(mode="after")
    def _model_tokenizer(self, info: ValidationInfo) -> ExperimentConfig:
        """The data as the model needs it: its declared `data_needs`; and a pretrained text
        encoder reads only its own tokens: tokenize the data with its tokenizer unless the
        config names a pretrained tokenizer itself."""
        registries = _registries(info)
        if registries is None or self.model.name == "auto":
            return self
        meta = registries("model").entry(self.model.name).meta
        if meta.get("data_needs"):  # what the model cannot work without
            self.data = self.data.model_copy(update=meta["data_needs"])
        tokenizer_of = meta.get("tokenizer")
        tokenizer = self.data.tokenizer
        if tokenizer_of and tokenizer.level != "pretrained":
            update = {"level": "pretrained", "pretrained": tokenizer_of(self.model.params)}
            if "lowercase" not in tokenizer.model_fields_set:  # its own normalizer decides
                update["lowercase"] = False
            self.data.tokenizer = tokenizer.model_copy(update=update)
        return self

    @model_validator(mode="after")
    def _agent_settings(self, info: ValidationInfo) -> ExperimentConfig:
        """`agent:` keys are the task's own parameters: unknown ones and wrong values are
        said with the task's name."""
        registries = _registries(info)
        if registries is None or not self.agent:
            return self
        name = self.task
        if name == "auto":
            name = registries("dataset").entry(self.data.dataset).meta["task"] or ""
        params_cls = registries("task").get(name).Params if name else None
        if params_cls is None:
            raise ValueError(f"task `{name or 'auto'}` takes no `agent:` settings")
        _check_params(params_cls, self.agent, f"agent: task `{name}`", "setting")
        return self

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())
