"""The Task contract: what one step means, its metrics, predictions and outputs.

The Trainer owns the loop; a Task says what a step is. Every hook the Trainer, the experiment,
prediction or the server may call is declared here as a documented no-op (as Lightning's hooks
are), and what a task can do is declared as tags (as scikit-learn's estimator tags are), so
nothing above asks "which task is this?" by name or probes for a method.

Supervised tasks use *automatic optimization*: ``training_step`` returns a loss and the Trainer
does backward, clipping, the optimizer and the schedule. A task that needs more (a GAN's two
optimizers, a self-organizing map without gradients) sets ``automatic_optimization = False``,
returns its optimizers from ``configure_optimizers`` (the Trainer hands them back in
``self.optimizers``) and steps them itself inside the same ``training_step(model, batch)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.errors import ConfigError
from deepworks.core.registry import Registry
from deepworks.core.schema import Schema

# The tags a task may declare (``Task.tags``); anything above reads these, never task names.
TAGS = {
    "supervised": "learns a target from inputs; models that predict scores fit it",
    "labelled": "learns the data's own labels or target values from the inputs",
    "classifies": "its target is one of the data's classes (class balance, stratified folds)",
    "explainable": "attributions (saliency, integrated gradients, Grad-CAM) explain its outputs",
    "distillable": "a smaller model can learn its outputs (deepworks distill)",
    "cross-validates": "k-fold cross-validation re-trains it on train + valid",
    "embeds": "its `codes` give each input a learned code (deepworks embed)",
    "recommends": "ranks items for a user (deepworks recommend)",
    "translates": "writes each text's translation (deepworks translate)",
    "transcribes": "writes what is said in each clip (deepworks transcribe)",
    "draws-explanations": "draws its own explanations (explain_to: a translation's attention, "
    "a transcript's saliency per word), not the generic attributions",
    "acts": "an agent: learns by acting in an environment, judged by its episodes' returns",
    "plays": "plays a board game against a person (deepworks play)",
    "calibrated": "predicted probabilities are temperature-scaled; unsure rows are referred",
}


class Task:
    name: ClassVar[str] = ""
    main_metric: ClassVar[str] = "loss"
    # What ``final_metrics`` may add, so `evaluate.main_metric` is checked before training.
    final_metric_names: ClassVar[tuple[str, ...]] = ()
    automatic_optimization: ClassVar[bool] = True
    # Metrics where lower is better; every other metric is maximized.
    lower_is_better: frozenset[str] = frozenset({"loss"})
    # What a generative task makes instead of predictions ("text", "images"); None: it predicts.
    generates: ClassVar[str | None] = None
    # Baselines the task scores beside the model: `<prefix>_<metric>` in its metrics.
    own_baselines: ClassVar[tuple[str, ...]] = ()
    # What the task can do (keys of TAGS).
    tags: ClassVar[frozenset[str]] = frozenset()
    # Tracked every epoch; the rest (curves, matrices) only in the final evaluation.
    epoch_metrics: ClassVar[frozenset[str]] = frozenset()
    # Validate each epoch on this many validation examples, spread evenly and the same every
    # epoch (None: all); the final evaluation reads the whole split. For tasks whose metric
    # costs more than an epoch's training would justify (translation decodes every sentence).
    epoch_sample: ClassVar[int | None] = None
    # Shown per group by `evaluate.slices`, beside the main metric.
    slice_metrics: ClassVar[tuple[str, ...]] = ()
    # The data is built as for this other task ("auto": the dataset's natural one), then
    # handed to `adapt_data`; None: as for this task itself.
    reads_data_as: ClassVar[str | None] = None
    # Whether `prediction_frame` has one row per input (a detector's has one per box).
    row_per_input: ClassVar[bool] = True
    # What data the task needs, said when it is given data it cannot learn from.
    data_hint: ClassVar[str] = ""
    # Whether evaluation reports a loss; an agent judged by its episodes has none (early
    # stopping then follows its main metric).
    evaluates_loss: ClassVar[bool] = True
    # The dataclass of its `agent:` settings (reinforcement learning); None: it takes none.
    Params: ClassVar[type | None] = None

    @classmethod
    def upgrade_schema(cls, schema: Schema) -> Schema:
        """A schema saved by an older deepworks, brought up to date when a run is loaded
        (fields added since default to what this task meant then); as it is by default."""
        return schema

    @classmethod
    def adapt_data(cls, bundle: Any, cfg: Any) -> Any:
        """The DataBundle built as `reads_data_as` says, made this task's (an anomaly task
        relabels it); by default it only takes this task's name."""
        bundle.schema.task = cls.name
        return bundle

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.optimizers: list[torch.optim.Optimizer] = []  # set by the Trainer
        # Selective prediction (classifiers): the precision the answered examples must reach.
        self.target_precision = 0.95
        # `evaluate.baselines`: all, none, or these names (of ``own_baselines`` too).
        self.baselines: bool | list[str] = True
        self.params: Any = self.Params() if self.Params else None

    def configure(self, settings: dict[str, Any]) -> None:
        """The config's `agent:` settings, checked against ``Params``."""
        if self.Params is not None:
            from deepworks.core.params import parse_params

            try:
                self.params = parse_params(self.Params, settings, f"task `{self.name}` agent:")
            except ValueError as exc:
                raise ConfigError(str(exc)) from None

    def scores_baseline(self, name: str) -> bool:
        """Whether ``final_metrics`` scores its own baseline ``name`` in this run."""
        return self.baselines is True or (
            isinstance(self.baselines, list) and name in self.baselines
        )

    # -- training -----------------------------------------------------------------------
    def on_fit_start(self, model: nn.Module, total_steps: int, train: Any) -> None:
        """Called once before the first step (also on resume): a schedule that needs the run's
        length (the SOM's decay), state fit from the data (DEC's centres, a GAN's judge)."""

    def configure_optimizers(
        self, model: nn.Module, build: Callable[[Any], torch.optim.Optimizer]
    ) -> list[torch.optim.Optimizer]:
        """``build(params)`` makes the configured optimizer; most tasks need just one. The
        model's ``param_groups()`` give pretrained layers their own learning rates."""
        return [build(model.param_groups())]

    def state_dict(self) -> dict[str, Any]:
        """Training state beyond the model and its optimizers, saved in every checkpoint as
        tensors and plain numbers (an agent's environments, replay buffer, target network);
        none by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what ``state_dict`` saved, when a run resumes."""

    def epoch_record(self) -> dict[str, float]:
        """Numbers the task adds to each epoch's record (an agent's environment steps,
        training returns, entropy); none by default."""
        return {}

    def loss(self, output: Any, target: Any) -> torch.Tensor:
        raise NotImplementedError(f"task `{self.name}` defines no loss")

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor | float:
        """The loss of one batch (automatic optimization), or, for a task that steps its own
        ``self.optimizers``, the loss it reports after stepping them."""
        x, y = batch
        return self.loss(model(x), y)

    def distillation_loss(
        self, student: torch.Tensor, teacher: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        """How far a student's outputs are from its teacher's (tasks tagged ``distillable``):
        the squared error by default."""
        import torch.nn.functional as F

        return F.mse_loss(student, teacher)

    # -- evaluation ---------------------------------------------------------------------
    def metrics(self, names: set[str] | None = None):
        """The task's metrics, updated and computed as one (a ``MetricSet``, or one metric
        computing a dict); ``names`` picks a subset."""
        from deepworks.core.metric import MetricSet

        chosen = {k: m for k, m in self.metric_factories().items() if names is None or k in names}
        return MetricSet({k: make() for k, make in chosen.items()})

    def metric_names(self) -> set[str]:
        """Every metric a run of this task reports: per epoch, and over whole splits."""
        return {"loss", *self.metric_factories(), *self.final_metric_names}

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        raise NotImplementedError(f"task `{self.name}` defines no metrics")

    def evaluation_step(
        self, model: nn.Module, batch: Batch
    ) -> tuple[torch.Tensor | None, Any, Any]:
        """Returns (loss, predictions as the metrics expect them, targets); the loss is None
        where there is none to report (an agent judged by its episodes)."""
        x, y = batch
        output = model(x)
        return self.loss(output, y), self.metric_input(output), self.metric_target(y)

    def metric_input(self, output: Any) -> Any:
        return output

    def metric_target(self, target: Any) -> Any:
        return target

    def summarize(self, values: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Computed metric tensors → JSON-friendly numbers, lists and dicts."""
        return {k: _plain(v) for k, v in values.items()}

    def is_better(self, metric: str, new: float, best: float | None, min_delta: float) -> bool:
        if best is None:
            return True
        if metric in self.lower_is_better:
            return new < best - min_delta
        return new > best + min_delta

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """Whole-split metrics after training, by split (clusters, thresholds chosen on valid,
        per-user ranking); none by default."""
        return {}

    # -- outputs ------------------------------------------------------------------------
    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        """The task's own figures in the run folder (embedding, U-matrix, ...); none by
        default."""

    def epoch_figures(self, model: nn.Module, epoch: int, folder: Path) -> None:
        """Figures drawn after every epoch (a GAN's sample grid); none by default."""

    def predict(self, model: nn.Module, x: Any) -> dict[str, torch.Tensor]:
        """Predictions for a batch of encoded inputs, in the user's units."""
        return self.postprocess(model(x))

    def postprocess(self, output: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"task `{self.name}` does not predict")

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        """Predictions as a table, one row per input: one column per output (`prediction` for
        a single value). Tasks with classes, thresholds or steps say more."""
        import pandas as pd

        frame = pd.DataFrame({"input": ids})
        for key, values in out.items():
            frame["prediction" if key == "value" else key] = values.numpy()
        return frame

    def example_inputs(self, model: nn.Module, data: Any) -> torch.Tensor | None:
        """Real inputs of the model, which an export is checked on and sample explanations
        explain; None: the rows of ``data`` (the test split) are. An agent's are the
        observations of an episode it plays (its test split holds episode seeds)."""
        return None

    def prediction_files(self, ids: list[Any], out: dict[str, Any], folder: Path) -> list[Path]:
        """Files a prediction writes beside its table into ``folder`` (mask PNGs, COCO
        results); none by default."""
        return []

    def labelled_metrics(self, model: nn.Module, data: Any, metrics: dict) -> dict[str, float]:
        """Whole-data metrics for a new labelled file (`evaluate --data`), beyond the per-batch
        ones; ``metrics`` are the run's own (thresholds chosen on its validation split)."""
        return {}

    def flag_novel(self, frame: Any, reasons: list[str]) -> Any:
        """Predictions of inputs unlike the training data (``reasons``: why, per row; "" for
        none) say so in `out_of_distribution`; tasks that decide (refer) say more."""
        frame["out_of_distribution"] = reasons
        return frame

    def explained_scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """What explanations attribute, one score per class (or the value): the model's
        outputs by default; a detector's strongest evidence for each class anywhere, a
        segmenter's class scores over the pixels it gives each class."""
        return model(x)

    def explain_to(
        self, model: nn.Module, inputs: Any, folder: Path, limit: int | None = None
    ) -> list[Path]:
        """Explanations a task draws itself into ``folder`` (tasks tagged ``draws-explanations``: a
        translation's attention of each written token over the source); the files written."""
        raise NotImplementedError(f"task `{self.name}` explains by attributions")

    def codes(self, model: nn.Module, x: Any) -> torch.Tensor:
        """The learned code of each input (tasks tagged ``embeds``)."""
        raise NotImplementedError(f"task `{self.name}` does not embed")


def _plain(value: torch.Tensor) -> Any:
    value = value.detach().cpu()
    return value.item() if value.numel() == 1 and value.dim() == 0 else value.tolist()


TASKS: Registry[type[Task]] = Registry("task", ConfigError, plugins="deepworks.tasks")


def register_task(name: str):
    """Register a Task class under ``name`` (its first doc line is its help)."""

    def decorator(cls: type[Task]) -> type[Task]:
        unknown = set(cls.tags) - set(TAGS)
        if unknown:
            raise ValueError(f"task `{name}` declares unknown tags {sorted(unknown)}")
        cls.name = name
        return TASKS.register(name, help=(cls.__doc__ or "").strip())(cls)

    return decorator


def get_task(schema: Schema) -> Task:
    return TASKS.get(schema.task)(schema)


def has_tag(task: str, tag: str) -> bool:
    """Whether the registered task ``task`` declares ``tag``."""
    return tag in TASKS.get(task).tags


def tagged(tag: str) -> str:
    """The registered tasks that declare ``tag``, for messages ("classification and
    regression")."""
    names = [e.name for e in TASKS if tag in e.obj.tags]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)
