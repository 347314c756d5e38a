"""The Trainer runs tasks that own their step: two optimizers (GAN-like), or none (SOM-like),
with the same ``training_step(model, batch)`` as every task; and batches that are not two
tensors (targets as lists of variable-size tensors, as boxes and transcripts are)."""

import torch
from torch import nn

from deepworks.config import OptimizerConfig, TrainConfig
from deepworks.core.batch import Batch
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.core.task import Task
from deepworks.data.datasets import Data, TensorData
from deepworks.metrics.evaluator import evaluate
from deepworks.train.loader import make_loader
from deepworks.train.trainer import Trainer

SCHEMA = Schema("table", "regression", (2,), "y", target_scale=(0.0, 1.0))


class TwoPlayers(Task):
    """Each half of the model has its own optimizer and is stepped by the task itself."""

    automatic_optimization = False

    def configure_optimizers(self, model, build):
        return [build(model.a.parameters()), build(model.b.parameters())]

    def training_step(self, model, batch):
        x, y = batch
        logs = {}
        for name, opt in zip(("a", "b"), self.optimizers, strict=True):
            opt.zero_grad()
            loss = (getattr(model, name)(x).squeeze(-1) - y).square().mean()
            loss.backward()
            opt.step()
            logs[name] = loss.item()
        return logs["a"] + logs["b"]

    def metric_factories(self):
        return {}


class RunningMean(Task):
    """Learns without gradients or optimizers: a buffer tracks the mean input."""

    automatic_optimization = False

    def configure_optimizers(self, model, build):
        return []

    def training_step(self, model, batch):
        x, _ = batch
        model.center.mul_(0.5).add_(0.5 * x.mean(0))
        return (x - model.center).square().mean().item()

    def metric_factories(self):
        return {}


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g) + torch.tensor([3.0, -1.0])
    return TensorData(x, x.sum(1))


def test_a_task_with_two_optimizers_trains_both_and_checkpoints_them(tmp_path):
    model = Model()
    model.a, model.b = nn.Linear(2, 1), nn.Linear(2, 1)
    cfg = TrainConfig(
        epochs=10, optimizer=OptimizerConfig(name="adam", lr=0.1), checkpoint_budget=1
    )
    trainer = Trainer(cfg, batch_size=16, progress=False, checkpoint_dir=tmp_path)
    state = trainer.fit(model, TwoPlayers(SCHEMA), _data(), None)
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"] / 2
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert len(ckpt["optimizers"]) == 2


def test_a_task_without_gradients_or_optimizers():
    model = Model()
    model.register_buffer("center", torch.zeros(2))
    trainer = Trainer(TrainConfig(epochs=3), batch_size=16, progress=False)
    state = trainer.fit(model, RunningMean(SCHEMA), _data(), None)
    assert torch.allclose(model.center, torch.tensor([3.0, -1.0]), atol=0.6)
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]


class PointSets(Data):
    """Each example: a 2-d point; its target: a (k, 2) tensor of k ≥ 0 points around it."""

    def __init__(self, n: int = 96) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 2, generator=g)
        counts = torch.randint(0, 4, (n,), generator=g).tolist()
        self.y = [
            self.x[i] * 2 + 0.05 * torch.randn(k, 2, generator=g) for i, k in enumerate(counts)
        ]

    def __len__(self) -> int:
        return len(self.x)

    def __getitems__(self, indices):
        return Batch(self.x[torch.as_tensor(indices)], [self.y[i] for i in indices])


class MatchEveryPoint(Task):
    """The loss averages over each example's own targets, however many it has (none too)."""

    def loss(self, output, target):
        errors = [
            (o - t).square().sum(-1).mean() for o, t in zip(output, target, strict=True) if len(t)
        ]
        return torch.stack(errors).mean()

    def evaluation_step(self, model, batch):
        x, y = batch
        return self.loss(model(x), y), None, None

    def metric_factories(self):
        return {}


def test_a_batch_whose_targets_are_lists_of_variable_size_tensors_trains_and_evaluates():
    data = PointSets()
    batch = data.__getitems__([0, 1, 2, 3])
    assert isinstance(batch.y, list) and len({len(t) for t in data.y}) > 1
    torch.manual_seed(0)
    model = Model()
    model.net = nn.Linear(2, 2)
    model.forward = model.net.forward
    cfg = TrainConfig(epochs=30, optimizer=OptimizerConfig(name="adam", lr=0.05))
    trainer = Trainer(cfg, batch_size=16, progress=False)
    before = evaluate(model, MatchEveryPoint(SCHEMA), make_loader(data, 256))["loss"]
    state = trainer.fit(model, MatchEveryPoint(SCHEMA), data, data)
    after = evaluate(model, MatchEveryPoint(SCHEMA), make_loader(data, 256))["loss"]
    assert after < 0.05 < before  # it learned y ≈ 2x through the ragged targets
    assert state.history[-1]["valid_loss"] == after
    assert torch.allclose(model.net.weight, 2 * torch.eye(2), atol=0.1)
