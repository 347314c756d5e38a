"""The Trainer runs tasks that own their step: two optimizers (GAN-like), or none (SOM-like)."""

import torch
from torch import nn

from deepworks.config import OptimizerConfig, TrainConfig
from deepworks.data.datasets import TensorData
from deepworks.data.schema import Schema
from deepworks.tasks.base import Task
from deepworks.train.trainer import Trainer

SCHEMA = Schema("table", "regression", (2,), "y", target_scale=(0.0, 1.0))


class TwoPlayers(Task):
    """Each half of the model has its own optimizer and is stepped by the task itself."""

    automatic_optimization = False

    def configure_optimizers(self, model, build):
        return [build(model.a.parameters()), build(model.b.parameters())]

    def training_step(self, model, batch, optimizers):
        x, y = batch
        logs = {}
        for name, opt in zip(("a", "b"), optimizers, strict=True):
            opt.zero_grad()
            loss = (getattr(model, name)(x).squeeze(-1) - y).square().mean()
            loss.backward()
            opt.step()
            logs[name] = loss.item()
        return {"loss": logs["a"] + logs["b"]}

    def metric_factories(self):
        return {}


class RunningMean(Task):
    """Learns without gradients or optimizers: a buffer tracks the mean input."""

    automatic_optimization = False

    def configure_optimizers(self, model, build):
        return []

    def training_step(self, model, batch, optimizers):
        x, _ = batch
        model.center.mul_(0.5).add_(0.5 * x.mean(0))
        return {"loss": (x - model.center).square().mean().item()}

    def metric_factories(self):
        return {}


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g) + torch.tensor([3.0, -1.0])
    return TensorData(x, x.sum(1))


def test_a_task_with_two_optimizers_trains_both_and_checkpoints_them(tmp_path):
    model = nn.Module()
    model.a, model.b = nn.Linear(2, 1), nn.Linear(2, 1)
    cfg = TrainConfig(epochs=10, optimizer=OptimizerConfig(name="adam", lr=0.1))
    trainer = Trainer(cfg, batch_size=16, progress=False, checkpoint_dir=tmp_path)
    state = trainer.fit(model, TwoPlayers(SCHEMA), _data(), None)
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"] / 2
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert len(ckpt["optimizers"]) == 2


def test_a_task_without_gradients_or_optimizers():
    model = nn.Module()
    model.register_buffer("center", torch.zeros(2))
    trainer = Trainer(TrainConfig(epochs=3), batch_size=16, progress=False)
    state = trainer.fit(model, RunningMean(SCHEMA), _data(), None)
    assert torch.allclose(model.center, torch.tensor([3.0, -1.0]), atol=0.6)
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]
