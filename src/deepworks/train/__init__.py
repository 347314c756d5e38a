"""Training: the generic Trainer, optimizers and schedules, atomic checkpoints."""

from deepworks.train.trainer import Callback, Trainer, TrainState

__all__ = ["Callback", "TrainState", "Trainer"]
