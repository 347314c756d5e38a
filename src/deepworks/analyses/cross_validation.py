"""k-fold cross-validation: how much the score depends on which examples happened to train.

The training and validation splits are pooled and cut into k folds (stratified for
classification); each fold trains a fresh model on the other k − 1 and scores the held-out one
with the task's metric code. The test split is never touched. Reported: every fold's score,
their mean and standard deviation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepworks.analyses.base import Analysis, Context, register_analysis
from deepworks.core.errors import ConfigError
from deepworks.core.task import has_tag, tagged
from deepworks.data.augment import augmented, augments_tensors
from deepworks.data.datasets import TensorData, first_rows
from deepworks.metrics.evaluator import evaluate
from deepworks.models import build_model
from deepworks.runtime import seed_everything
from deepworks.tasks import get_task
from deepworks.train.checkpoint import write_json
from deepworks.train.loader import make_loader
from deepworks.train.trainer import Trainer


def check_task(task: str) -> None:
    if not has_tag(task, "cross-validates"):
        raise ConfigError(
            f"evaluate.cv applies to {tagged('cross-validates')}, not {task} "
            "(a forecast's folds would train on the future)"
        )


def cross_validate(cfg: Any, bundle: Any, k: int) -> dict[str, Any]:
    from sklearn.model_selection import KFold, StratifiedKFold

    schema = bundle.schema
    check_task(schema.task)
    task = get_task(schema)
    main = task.main_metric
    (x1, y1), (x2, y2) = first_rows(bundle.train), first_rows(bundle.valid)
    x, y = torch.cat([x1, x2]), torch.cat([y1, y2])
    if has_tag(schema.task, "classifies"):
        folds = StratifiedKFold(k, shuffle=True, random_state=cfg.seed).split(x, y)
    else:
        folds = KFold(k, shuffle=True, random_state=cfg.seed).split(x)
    scores = []
    for i, (train, held_out) in enumerate(folds):
        seed_everything(cfg.seed + i)
        model = build_model(cfg.model.name, cfg.model.params, schema)
        trainer = Trainer(cfg.train, cfg.seed + i, batch_size=cfg.data.batch_size, progress=False)
        data = TensorData(x[train], y[train])
        if augments_tensors(schema):  # not raw data (waveforms), which are not pooled here
            data = augmented(data, cfg.data.augment, schema, cfg.seed + i)
        trainer.fit(model, task, data, None)
        loader = make_loader(TensorData(x[held_out], y[held_out]), cfg.data.eval_batch_size)
        scores.append(float(evaluate(model, task, loader, trainer.device, {main})[main]))
    return {
        "folds": k,
        "metric": main,
        "scores": scores,
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores)),
    }


@register_analysis("cross-validation", order=50)
class CrossValidation(Analysis):
    """k-fold cross-validation on train + valid (`evaluate.cv`): cv.json."""

    def enabled(self, cfg: Any) -> bool:
        return bool(cfg.evaluate.cv)

    def check(self, ctx: Context) -> None:  # a task it cannot serve fails before training
        check_task(ctx.bundle.schema.task)

    def run(self, ctx: Context) -> None:
        write_json(ctx.folder / "cv.json", cross_validate(ctx.cfg, ctx.bundle, ctx.cfg.evaluate.cv))
