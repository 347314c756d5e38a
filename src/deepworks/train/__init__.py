"""Training: the generic Trainer, optimizers and schedules, atomic checkpoints.

The Trainer is imported on first use (PEP 562): writing a run's JSON through
``train.checkpoint`` must not pay for the Trainer's metrics and models."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {name: "deepworks.train.trainer" for name in ("Callback", "TrainState", "Trainer")}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'deepworks.train' has no attribute {name!r}")
