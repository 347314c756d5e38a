"""A third-party plug-in, as a separate package would ship it: a new kind of data (points in
polar coordinates), its encoder, a task (median regression with an L1 loss), a model and an
analysis, registered through deepworks' entry points (see the .dist-info beside this file)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.regression import MeanAbsoluteError

from deepworks.analyses import Analysis, register_analysis
from deepworks.core import Model, Task, register_task
from deepworks.core.encoder import Encoder
from deepworks.data.bundle import DataBundle, assemble, register_builder
from deepworks.data.encoders import register_encoder
from deepworks.data.sources import Source, register_dataset
from deepworks.data.splits import split_indices
from deepworks.data.tables import frame_of
from deepworks.models import register_model


@dataclass
class PolarSource(Source):
    modality: ClassVar[str] = "polar"
    natural_task: ClassVar[str | None] = "median-regression"
    frame: pd.DataFrame  # radius, angle, and the target: the point's height y
    origin: str


@register_dataset("polar-points", "median-regression", "polar", "600 points (r, θ) → height")
def polar_points(cfg: Any) -> PolarSource:
    rng = np.random.default_rng(0)
    r, theta = rng.uniform(0.5, 2.0, 600), rng.uniform(-np.pi, np.pi, 600)
    noise = rng.laplace(0, 0.02, 600)
    frame = pd.DataFrame({"radius": r, "angle": theta, "height": r * np.sin(theta) + noise})
    return PolarSource(frame, "polar-points")


@register_encoder("polar")
@dataclass
class PolarEncoder(Encoder):
    """(radius, angle) → (x, y): the model sees Cartesian coordinates."""

    kind: str = "polar"

    def encode(self, frame: pd.DataFrame) -> torch.Tensor:
        r, theta = frame["radius"].to_numpy(), frame["angle"].to_numpy()
        return torch.tensor(
            np.stack([r * np.cos(theta), r * np.sin(theta)], 1), dtype=torch.float32
        )

    def batches(self, inputs: Any, size: int, schema: Any):
        frame = frame_of(inputs, ["radius", "angle"])
        return list(frame.index), iter(self.encode(frame).split(size))


@register_builder("polar", "median-regression")
def polar_bundle(src: PolarSource, task: str, cfg: Any, seed: int) -> DataBundle:
    encoder = PolarEncoder()
    splits = split_indices(len(src.frame), None, cfg, seed, src.origin)
    y = torch.tensor(src.frame["height"].to_numpy(), dtype=torch.float32)
    return assemble(
        encoder.encode(src.frame),
        y,
        splits,
        modality="polar",
        task=task,
        target="height",
        encoder=encoder.to_dict(),
        origin=src.origin,
    )


@register_task("median-regression")
class MedianRegression(Task):
    """Predict a number with an L1 loss (robust to outliers)."""

    main_metric = "mae"
    lower_is_better = frozenset({"loss", "mae"})
    epoch_metrics = frozenset({"mae"})
    tags = frozenset({"supervised"})

    def loss(self, output, target):
        return F.l1_loss(output.squeeze(-1), target)

    def metric_input(self, output):
        return output.squeeze(-1)

    def metric_factories(self):
        return {"mae": MeanAbsoluteError}

    def postprocess(self, output):
        return {"value": output.squeeze(-1)}


@dataclass
class TinyParams:
    hidden: int = 32


class Tiny(Model):
    def __init__(self, n_in: int, p: TinyParams) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, p.hidden), nn.Tanh(), nn.Linear(p.hidden, 1))

    def forward(self, x):
        return self.net(x)


@register_model("tiny", TinyParams, ("polar",), "two dense layers", tasks=("median-regression",))
def tiny(schema, p: TinyParams) -> Tiny:
    return Tiny(schema.input_shape[0], p)


@register_analysis("median-baseline", order=30)
class MedianBaseline(Analysis):
    """The test MAE of always answering the training median, beside the model's."""

    def run(self, ctx) -> None:
        if ctx.task.name != "median-regression":  # other tasks' runs are not its business
            return
        train_y, test_y = ctx.bundle.train.y, ctx.bundle.test.y
        trivial = float((test_y - train_y.median()).abs().mean())
        model = float(ctx.metrics["test"]["mae"])
        (ctx.folder / "median-baseline.json").write_text(
            json.dumps({"median_mae": trivial, "model_mae": model})
        )
