"""Reload a finished run and use it: predict on new data, evaluate on new labelled data.

Loading reads JSON and safetensors only; nothing from the run folder is unpickled or executed.
The run's encoder turns raw inputs into batches and reads labelled files, its task turns
outputs into a table; ``Run`` itself only wires them together, with explanations and
generation in their own mixins.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model

import deepworks.modalities
import deepworks.tasks  # noqa: F401  (registers the tasks)
from deepworks.core.batch import concat
from deepworks.core.errors import DataError, RunError
from deepworks.core.lazy import lazy_module
from deepworks.core.schema import Schema
from deepworks.core.task import TASKS, Task, get_task
from deepworks.data.encoders import encoder_from_dict
from deepworks.metrics.evaluator import evaluate
from deepworks.models import build_model
from deepworks.predict.acting import Acting
from deepworks.predict.explaining import Explaining
from deepworks.predict.generating import Generating
from deepworks.runs.folder import RunFolder
from deepworks.train.loader import make_loader

pd = lazy_module("pandas")  # imported on first use: most runs read no table

# pandas named, not loaded: predicting an image or a text never needs it
Inputs = Union["pd.DataFrame", np.ndarray, torch.Tensor, str, Path, Sequence[str | Path]]


class Run(Explaining, Generating, Acting):
    """A trained model with its data schema: ``predict`` takes raw inputs as the data came."""

    def __init__(self, folder: RunFolder, model: torch.nn.Module, schema: Schema) -> None:
        self.folder, self.model, self.schema = folder, model.eval(), schema
        self.task: Task = get_task(schema)
        self.encoder = encoder_from_dict(schema.encoder)
        self.batch_size = 256

    @property
    def path(self) -> Path:
        return self.folder.path

    @cached_property  # read once: predict consults it (temperature, thresholds) every call
    def metrics(self) -> dict[str, Any]:
        return self.folder.read_json(self.folder.metrics_json)

    @property
    def info(self) -> dict[str, Any]:
        return self.folder.info()

    @property
    def audit(self) -> list[dict[str, str]]:
        """What the data audit found before training (check, severity, message)."""
        return self.folder.read_json(self.folder.path / "audit.json")["findings"]

    @property
    def leaderboard(self) -> pd.DataFrame:
        """The deep model and the baselines trained on the same split, best first."""
        board = self.folder.read_json(self.folder.path / "leaderboard.json")
        return pd.DataFrame(board["rows"])

    def history(self) -> list[dict[str, Any]]:
        return self.folder.history()

    # ------------------------------------------------------------------------- predict
    def predict(self, inputs: Inputs, files: Path | None = None) -> pd.DataFrame:
        """One row per input: the prediction, and for classifiers one probability per class;
        tasks whose predictions are pictures (masks) or documents (COCO results) also write
        them into ``files``.

        >>> run = deepworks.load("runs/my-run")  # doctest: +SKIP
        >>> run.predict(pd.read_csv("new_rows.csv"))  # doctest: +SKIP
        """
        ids, batches = self.encode(inputs)
        parts = [self.forward(x) for x in batches]
        out = {k: concat([p[k] for p in parts]) for k in parts[0]} if parts else {}
        if files is not None:
            self.task.prediction_files(ids, out, files)
        return self.frame(ids, out, self.encoder.novelty(inputs))

    # The three steps of ``predict``, apart for the server: it encodes each request on its
    # own (a bad one fails alone, before it joins a batch) and runs the network on many.
    def encode(self, inputs: Inputs) -> tuple[list[Any], Iterator[Any]]:
        """Raw inputs → their ids and encoded batches; bad inputs raise a DataError here."""
        if self.task.generates:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model: it generates "
                f"{self.task.generates} (`deepworks generate {self.folder.id}`) rather than "
                "predicting"
            )
        return self.encoder.batches(inputs, self.batch_size, self.schema)

    @torch.inference_mode()
    def forward(self, x: Any) -> dict[str, torch.Tensor]:
        """Encoded inputs → the task's raw outputs (probabilities, values, ...)."""
        return self.task.predict(self.model, x)

    def frame(
        self, ids: list[Any], out: dict[str, torch.Tensor], novel: list[str] | None = None
    ) -> pd.DataFrame:
        """The task's raw outputs → one row per input; ``novel``: why each input is unlike
        the training data ("" if it is not), flagged and, for a classifier, referred."""
        frame = self.task.prediction_frame(ids, out, self.metrics)
        return frame if novel is None else self.task.flag_novel(frame, novel)

    def embed(self, inputs: Inputs) -> pd.DataFrame:
        """The learned code of each input: an autoencoder's code, or a pretrained model's
        features (what its head sees). Columns code_0, code_1, ..."""
        if "embeds" in self.task.tags:
            embed = lambda x: self.task.codes(self.model, x)  # noqa: E731
        elif "embeds" in self.model.tags:
            embed = self.model.pooled_features
        else:
            raise RunError(
                f"run {self.folder.id} is a {self.schema.task} model; autoencoder runs and "
                "pretrained models (bert, resnet18, efficientnet_lite0, ...) embed their inputs"
            )
        ids, batches = self.encoder.batches(inputs, self.batch_size, self.schema)
        codes = torch.cat([embed(x) for x in batches]).numpy()
        frame = pd.DataFrame(codes, columns=[f"code_{i}" for i in range(codes.shape[1])])
        frame.insert(0, "input", ids)
        return frame

    # ------------------------------------------------------------------------ evaluate
    def evaluate(self, data: str | Path | None = None) -> dict[str, Any]:
        """Metrics on the run's own test split, or on a labelled CSV / image folder."""
        if data is None:
            from deepworks.catalog import load_config
            from deepworks.tasks import load_data

            cfg = load_config(self.folder.config)
            dataset = load_data(cfg.data, cfg.task, cfg.seed).test
        else:
            path = Path(data)
            if not path.exists():
                raise DataError(f"{path} does not exist")
            dataset = self.encoder.labelled(path, self.schema)
            scores = evaluate(self.model, self.task, make_loader(dataset, self.batch_size))
            return scores | self.task.labelled_metrics(self.model, dataset, self.metrics)
        return evaluate(self.model, self.task, make_loader(dataset, self.batch_size))


def load(run_ref: str | Path, runs_dir: str | Path = "runs") -> Run:
    """Load a finished run from its folder (or id): JSON and safetensors only."""
    folder = RunFolder.open(run_ref, runs_dir)
    spec = folder.read_json(folder.model_json)
    if not folder.weights.is_file():
        status = folder.info().get("status")
        raise RunError(
            f"run {folder.id} has no trained weights yet (status: {status}); "
            f"resume it with `deepworks resume {folder.id}`"
        )
    schema = Schema.from_dict(spec["schema"])
    schema = TASKS.get(schema.task).upgrade_schema(schema)  # a run saved by an older version
    model = build_model(spec["model"], spec["params"], schema, pretrained=False)
    try:
        load_model(model, str(folder.weights))
    except (SafetensorError, OSError, RuntimeError) as exc:  # damaged, planted or cut short
        raise RunError(
            f"{folder.weights} is damaged and cannot be loaded ({' '.join(str(exc).split())}); "
            f"retrain, or `deepworks resume {folder.id}` if it has a checkpoint"
        ) from None
    return Run(folder, model, schema)
