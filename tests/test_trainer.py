import math

import numpy as np
import pytest
import torch

from deepworks.catalog import load_config
from deepworks.core.errors import TrainingError
from deepworks.metrics.evaluator import evaluate
from deepworks.models import build_model
from deepworks.tasks import get_task, load_data
from deepworks.train.checkpoint import write_json
from deepworks.train.loader import make_loader
from deepworks.train.optim import OPTIMIZERS, SCHEDULERS
from deepworks.train.trainer import Callback, Trainer
from tests.conftest import Killed, tiny_config, trainer_killed_when


def _fit(raw: dict, seed: int = 0, **trainer_kw):
    cfg = load_config(raw)
    bundle = load_data(cfg.data, cfg.task, seed)
    torch.manual_seed(seed)
    model = build_model(cfg.model.name, cfg.model.params, bundle.schema)
    task = get_task(bundle.schema)
    trainer = Trainer(cfg.train, seed, batch_size=cfg.data.batch_size, progress=False, **trainer_kw)
    state = trainer.fit(model, task, bundle.train, bundle.valid)
    return model, task, bundle, state


def test_mlp_learns_iris_beyond_the_majority_class():
    model, task, bundle, state = _fit(tiny_config(epochs=30))
    test = evaluate(model, task, make_loader(bundle.test, 64))
    majority = np.bincount(bundle.train.y.numpy()).max() / len(bundle.train)
    assert test["accuracy"] > majority + 0.4
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]


def test_regression_beats_predicting_the_mean():
    raw = tiny_config("diabetes", epochs=30)
    model, task, bundle, _ = _fit(raw)
    assert evaluate(model, task, make_loader(bundle.test, 64))["r2"] > 0.1


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_trains(name):
    _, _, _, state = _fit(tiny_config(epochs=4, optimizer={"name": name, "lr": 0.05}))
    assert state.history[-1]["train_loss"] < state.history[0]["train_loss"]


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_every_schedule_changes_the_learning_rate(name):
    raw = tiny_config(epochs=4, scheduler={"name": name, "step_size": 1})
    _, _, _, state = _fit(raw)
    rates = [r["lr"] for r in state.history]
    assert len(set(rates)) > 1 and rates[-1] < 0.01


def test_gradient_clipping_bounds_the_update():
    raw = tiny_config(epochs=1, optimizer={"name": "sgd", "lr": 1.0, "momentum": 0.0})
    raw["train"]["grad_clip"] = 1e-3
    raw["model"]["dropout"] = 0.0
    cfg = load_config(raw)
    bundle = load_data(cfg.data)
    torch.manual_seed(0)
    model = build_model("mlp", cfg.model.params, bundle.schema)
    start = torch.cat([p.detach().flatten() for p in model.parameters()])
    Trainer(cfg.train, batch_size=16, progress=False).fit(
        model, get_task(bundle.schema), bundle.train, None
    )
    moved = torch.cat([p.detach().flatten() for p in model.parameters()]) - start
    steps = math.ceil(len(bundle.train) / 16)
    assert moved.norm() <= steps * 1e-3 * 1.0001  # each step moves at most lr * clip


def test_early_stopping_stops_and_restores_the_best_epoch():
    raw = tiny_config(epochs=200, optimizer={"name": "adam", "lr": 0.05})
    raw["train"]["early_stopping"] = {"patience": 3}
    model, task, bundle, state = _fit(raw)
    assert state.stopped_early and len(state.history) < 200
    best = min(r["valid_loss"] for r in state.history)
    assert state.best == pytest.approx(best)
    assert evaluate(model, task, make_loader(bundle.valid, 64))["loss"] == pytest.approx(best)


class _NaNAfter:
    """Wraps a task so its loss turns NaN at the third step."""

    def __init__(self, task):
        self.task, self.calls = task, 0

    def __getattr__(self, name):
        return getattr(self.task, name)

    def training_step(self, model, batch):
        self.calls += 1
        loss = self.task.training_step(model, batch)
        return loss * float("nan") if self.calls >= 3 else loss


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    cfg = load_config(tiny_config())
    bundle = load_data(cfg.data)
    model = build_model("mlp", cfg.model.params, bundle.schema)
    trainer = Trainer(cfg.train, batch_size=16, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, step 3.*Lower"):
        trainer.fit(model, _NaNAfter(get_task(bundle.schema)), bundle.train, bundle.valid)


def test_seeded_runs_are_identical_and_seeds_differ():
    a = _fit(tiny_config())[0].state_dict()
    b = _fit(tiny_config())[0].state_dict()
    c = _fit(tiny_config(), seed=1)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_mid_epoch_in_process_gives_identical_weights(tmp_path):
    raw = tiny_config(epochs=3, checkpoint_every_steps=4)
    raw["model"]["dropout"] = 0.3  # dropout draws from the RNG: resume must restore it
    full = _fit(raw, checkpoint_dir=tmp_path / "full")[0].state_dict()

    KillAtStep4 = trainer_killed_when(lambda state: state.global_step == 4)
    cfg = load_config(raw)
    bundle = load_data(cfg.data)

    def fresh(cls):
        torch.manual_seed(0)
        model = build_model("mlp", cfg.model.params, bundle.schema)
        trainer = cls(cfg.train, 0, batch_size=16, progress=False, checkpoint_dir=tmp_path / "k")
        return model, trainer

    model, trainer = fresh(KillAtStep4)
    with pytest.raises(Killed):
        trainer.fit(model, get_task(bundle.schema), bundle.train, bundle.valid)
    torch.manual_seed(123)  # a new process starts with other RNG state
    model, trainer = fresh(Trainer)
    state = trainer.fit(model, get_task(bundle.schema), bundle.train, bundle.valid, resume=True)
    resumed = model.state_dict()
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert len(state.history) == 3


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "state.json"
    write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert path.read_text().strip().startswith("{") and '"ok": 1' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_unknown_early_stopping_monitor_is_a_config_error():
    from deepworks.core.errors import ConfigError

    raw = tiny_config()
    raw["train"]["early_stopping"] = {"monitor": "acuracy"}
    with pytest.raises(ConfigError, match="Did you mean `accuracy`"):
        _fit(raw)


def test_early_stopping_can_monitor_a_final_only_metric():
    raw = tiny_config(epochs=4)
    raw["train"]["early_stopping"] = {"monitor": "roc_auc", "patience": 10}
    _, _, _, state = _fit(raw)
    assert "valid_roc_auc" in state.history[-1] and state.best is not None


def test_a_lone_last_example_joins_the_batch_before_it():
    """Batch norm cannot train on one example: 11 examples in batches of 5 come as 5 + 6."""
    from deepworks.train.loader import NoLoneBatch

    batches = NoLoneBatch(range(11), 5, drop_last=False)
    assert list(batches) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10]] and len(batches) == 2
    assert list(NoLoneBatch(range(12), 5, drop_last=False))[-1] == [10, 11]
    assert list(NoLoneBatch(range(1), 5, drop_last=False)) == [[0]]


def test_checkpoints_keep_within_their_budget_and_resume_exactly_from_any(tmp_path):
    """Epochs of milliseconds: with a tiny budget no epoch's checkpoint is worth its cost;
    with budget 1 every epoch's is written, and a run killed part-way resumes from its last
    to the weights of the run that wrote none."""
    from deepworks.train.checkpoint import CheckpointWriter

    raw = tiny_config(epochs=5, checkpoint_budget=1e-6)
    raw["model"]["dropout"] = 0.3
    every = {**raw, "train": {**raw["train"], "checkpoint_budget": 1.0}}
    written = []
    real_write = CheckpointWriter.write

    def counting(self, path, payload, then):
        written.append(payload["state"]["epoch"])
        return real_write(self, path, payload, then)

    CheckpointWriter.write = counting
    try:
        full = _fit(raw, checkpoint_dir=tmp_path / "full")[0].state_dict()
        assert written == []
        _fit(every, checkpoint_dir=tmp_path / "every")
        assert written == [1, 2, 3, 4, 5]
    finally:
        CheckpointWriter.write = real_write

    class KilledAtEpoch4(Callback):
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 4:
                raise Killed

    with pytest.raises(Killed):
        _fit(every, checkpoint_dir=tmp_path / "k", callbacks=[KilledAtEpoch4()])
    cfg = load_config(every)
    bundle = load_data(cfg.data)
    torch.manual_seed(0)
    model = build_model("mlp", cfg.model.params, bundle.schema)
    trainer = Trainer(cfg.train, 0, batch_size=16, progress=False, checkpoint_dir=tmp_path / "k")
    state = trainer.fit(model, get_task(bundle.schema), bundle.train, bundle.valid, resume=True)
    assert [r["epoch"] for r in state.history] == [1, 2, 3, 4, 5]
    resumed = model.state_dict()
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_bucketed_batches_hold_every_text_once_with_less_padding_and_repeat_by_epoch():
    from deepworks.data.datasets import EpochSampler, TensorBatches, TensorData

    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 60, (1000,), generator=g)
    x = torch.zeros(1000, 60, dtype=torch.long)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.randint(1, 50, (int(n),), generator=g)
    data = TensorData(x, torch.arange(1000))

    def epoch(bucket, e, start=0):
        sampler = EpochSampler(1000, seed=3)
        sampler.set_epoch(e, start=start)
        return list(TensorBatches(data, sampler, 16, bucket))

    plain, bucketed = epoch(False, 0), epoch(True, 0)
    assert sorted(torch.cat([y for _, y in bucketed]).tolist()) == list(range(1000))
    for bx, by in bucketed:  # each batch cut to its longest text, nothing real cut off
        assert bx.shape[1] == int(lengths[by].max()) and torch.equal(bx, x[by, : bx.shape[1]])
    cells = lambda batches: sum(bx.numel() for bx, _ in batches)  # noqa: E731
    assert cells(bucketed) < 0.7 * sum(len(by) * 60 for _, by in plain)
    again = epoch(True, 0)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(bucketed, again, strict=True))
    assert not torch.equal(bucketed[0][1], epoch(True, 1)[0][1])  # another epoch, another order
    resumed = epoch(True, 0, start=5 * 16)  # five batches trained before a kill
    assert all(torch.equal(a[1], b[1]) for a, b in zip(bucketed[5:], resumed, strict=True))


def test_bucketed_sentence_pairs_are_cut_to_their_longer_side():
    from deepworks.data.datasets import EpochSampler, TensorBatches, TensorData

    g = torch.Generator().manual_seed(1)
    sides = torch.randint(1, 40, (300, 2), generator=g)
    x = torch.zeros(300, 2, 40, dtype=torch.long)
    for i, (a, b) in enumerate(sides.tolist()):
        x[i, 0, :a], x[i, 1, :b] = 5, 7
    data, sampler = TensorData(x, torch.arange(300)), EpochSampler(300, seed=2)
    batches = list(TensorBatches(data, sampler, 16, bucket=True))
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(300))
    for bx, by in batches:  # neither side of any pair loses a token
        assert bx.shape[2] == int(sides[by].max()) and torch.equal(bx, x[by, :, : bx.shape[2]])
    assert sum(bx.numel() for bx, _ in batches) < 0.8 * x.numel()


def test_a_bucketed_text_run_resumes_exactly(tmp_path):
    raw = {
        "data": {"dataset": "fine-foods", "limit": 300, "batch_size": 16, "bucket": True,
                 "tokenizer": {"max_length": 48, "min_freq": 2}},
        "model": {"name": "lstm", "embed_dim": 16, "hidden": 16, "dropout": 0.2},
        "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01},
                  "checkpoint_every_steps": 5},
    }  # fmt: skip
    cfg = load_config(raw)
    bundle = load_data(cfg.data, cfg.task)

    def fit(cls, folder, resume=False):
        torch.manual_seed(0)
        model = build_model("lstm", cfg.model.params, bundle.schema)
        trainer = cls(cfg.train, 0, batch_size=16, progress=False, checkpoint_dir=folder,
                      bucket=True)  # fmt: skip
        trainer.fit(model, get_task(bundle.schema), bundle.train, bundle.valid, resume=resume)
        return model.state_dict()

    full = fit(Trainer, tmp_path / "full")
    with pytest.raises(Killed):
        fit(trainer_killed_when(lambda s: s.global_step == 15), tmp_path / "k")
    resumed = fit(Trainer, tmp_path / "k", resume=True)
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_an_epoch_sample_is_spread_over_the_split_and_the_same_each_time():
    from deepworks.data.datasets import TensorData, spread_sample

    data = TensorData(torch.arange(100)[:, None], torch.arange(100))
    sample = spread_sample(data, 10)
    assert len(sample) == 10 and sample.y[0] == 0 and sample.y[-1] == 99
    assert torch.equal(sample.y, spread_sample(data, 10).y)
    assert spread_sample(data, None) is data and spread_sample(data, 500) is data
    other = spread_sample(torch.utils.data.TensorDataset(torch.arange(100)), 4)
    assert [int(other[i][0]) for i in range(4)] == [0, 33, 66, 99]
