"""Knowledge distillation: a smaller registered model learns from a trained run (the teacher).

The student trains on the teacher's softened outputs as well as the labels (Hinton et al.,
2015): loss = alpha · T² · KL(teacher/T ‖ student/T) + (1 − alpha) · the task's own loss, for
classification; for regression the soft target is the teacher's prediction (MSE). Everything
else — data, splits, evaluation, checkpoints, resume, the report — is an ordinary run, whose
config carries ``distill: {teacher: RUN}``.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from deepworks.core.errors import ConfigError
from deepworks.core.task import Task, has_tag, tagged


def load_teacher(reference: str, schema: Any) -> Any:
    """The teacher run, its network frozen; it must read the data exactly as the student does."""
    from deepworks.predict import load

    teacher = load(reference)
    if teacher.schema.task != schema.task or not has_tag(teacher.schema.task, "distillable"):
        raise ConfigError(
            f"distill.teacher: run {teacher.folder.id} does {teacher.schema.task}; distillation "
            f"needs a teacher of the same task as the student ({schema.task}), one of "
            f"{tagged('distillable')}"
        )
    as_json = lambda d: json.loads(json.dumps(d))  # noqa: E731 - tuples and lists alike
    same_encoding = as_json(teacher.schema.encoder) == as_json(schema.encoder)
    if not same_encoding or tuple(teacher.schema.input_shape) != tuple(schema.input_shape):
        raise ConfigError(
            f"distill.teacher: run {teacher.folder.id} read its data differently (another "
            "dataset, split or tokenizer): keep the teacher's `data` section and change only "
            "the model"
        )
    for p in teacher.model.eval().parameters():
        p.requires_grad_(False)
    return teacher


def distilled(task: Task, teacher: nn.Module, temperature: float, alpha: float) -> Task:
    """``task`` with a training step that also matches the teacher; evaluation unchanged."""
    base = type(task)

    class Distilled(base):  # type: ignore[valid-type, misc]
        def training_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
            x, y = batch
            student = model(x)
            with torch.no_grad():
                target = teacher.to(x.device)(x)
            hard = self.loss(student, y)
            soft = self.distillation_loss(student, target, temperature)
            return alpha * soft + (1 - alpha) * hard

    student_task = Distilled.__new__(Distilled)
    student_task.__dict__.update(task.__dict__)
    return student_task


def teacher_row(teacher: Any, metric: str) -> dict[str, Any]:
    """The teacher run's leaderboard row: its test metric and size, beside its student."""
    weights = teacher.model.state_dict().values()
    return {
        "model": f"{teacher.info.get('model', 'teacher')} (teacher)",
        metric: teacher.metrics["test"].get(metric),
        "train_seconds": None,
        "size_bytes": sum(t.numel() * t.element_size() for t in weights),
    }
