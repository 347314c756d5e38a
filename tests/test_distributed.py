"""Data-parallel training: two CPU processes (gloo) train as one process would."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch.utils.data import BatchSampler

import deepworks
from deepworks.data.datasets import EpochSampler
from deepworks.train.distributed import ShardedBatchSampler


def _config(tmp_path):
    raw = {
        "data": {"dataset": "digits", "batch_size": 20, "train_size": 1000},  # 50 even batches
        "model": {"name": "mlp", "hidden": [32], "dropout": 0.0},  # no dropout draws to differ
        "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.005}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(raw))
    return raw, path


def test_shards_split_every_batch_between_the_ranks():
    sampler = EpochSampler(10, seed=0)
    shares = [list(ShardedBatchSampler(sampler, 4, rank, 2)) for rank in (0, 1)]
    for k, batch in enumerate(BatchSampler(sampler, 4, drop_last=False)):
        assert sorted(shares[0][k] + shares[1][k]) == sorted(batch)  # together: the batch
        assert not set(shares[0][k]) & set(shares[1][k])  # apart: no example twice
    assert [len(b) for b in shares[0]] == [2, 2, 1] == [len(b) for b in shares[1]]


def _deepworks(*args):
    """The real command in its own process: --nproc starts torchrun, which starts two more."""
    exe = Path(sys.executable).with_name("deepworks")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_two_processes_match_one(tmp_path):
    raw, path = _config(tmp_path)
    single = deepworks.run(raw, runs_dir=tmp_path / "one", threads=1, progress=False)
    result = _deepworks("run", path, "--nproc", "2", "--runs-dir", tmp_path / "two", "-q")
    assert result.returncode == 0, result.stderr
    double = deepworks.load(result.stdout.strip().splitlines()[-1])
    info = json.loads((double.path / "run.json").read_text())
    assert info["processes"] == 2 and info["parameter_spread"] == 0.0  # ranks agree exactly
    a, b = load_file(single.folder.weights), load_file(double.folder.weights)
    for name in a:  # the same steps on the same global batches, up to float summation order
        assert torch.allclose(a[name], b[name], atol=1e-4), name
    assert double.metrics["test"]["accuracy"] == pytest.approx(
        single.metrics["test"]["accuracy"], abs=0.01
    )
    assert len(double.history()) == 3  # one writer: no epoch logged twice
    assert (double.path / "report.html").is_file()


def test_tasks_with_their_own_optimizers_are_refused_in_several_processes(tmp_path):
    raw = {
        "task": "gan",
        "data": {"dataset": "digits"},
        "model": {"name": "dcgan", "latent": 8, "width": 8},
        "train": {"epochs": 1},
    }
    path = tmp_path / "gan.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = _deepworks("run", path, "--nproc", "2", "--runs-dir", tmp_path, "-q")
    assert result.returncode != 0
    assert "error: the gan task steps its own optimizers" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_killed_run_resumes_in_two_processes(tmp_path, monkeypatch):
    """Killed after its first epoch in one process, finished in two: the weights end where an
    uninterrupted single-process run ends."""
    from deepworks import experiment
    from tests.conftest import Killed, trainer_killed_when

    raw, _ = _config(tmp_path)
    whole = deepworks.run(raw, runs_dir=tmp_path / "whole", threads=1, progress=False)
    monkeypatch.setattr(experiment, "Trainer", trainer_killed_when(lambda s: s.epoch == 1))
    with pytest.raises(Killed):
        deepworks.run(raw, runs_dir=tmp_path / "killed", threads=1, progress=False)
    monkeypatch.undo()
    killed = next((tmp_path / "killed").glob("*-digits-mlp"))
    result = _deepworks("resume", killed, "--nproc", "2", "--runs-dir", tmp_path / "killed", "-q")
    assert result.returncode == 0, result.stderr
    resumed = deepworks.load(killed)
    assert json.loads((killed / "run.json").read_text())["processes"] == 2
    assert [r["epoch"] for r in resumed.history()] == [1, 2, 3]
    a, b = load_file(whole.folder.weights), load_file(resumed.folder.weights)
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-4), name


def test_a_process_group_of_one_trains_through_ddp_as_without_it(monkeypatch):
    """What `benchmarks/gpu.py` runs on one GPU with NCCL, here on gloo: inside a process
    group the step goes through DistributedDataParallel, and one replica learns the same."""
    from deepworks.train import distributed
    from tests.conftest import tiny_config
    from tests.test_trainer import _fit

    raw = tiny_config("digits", epochs=2)
    raw["model"]["dropout"] = 0.0
    alone, *_ = _fit(raw)
    wrapped = []
    real = distributed.Replica
    monkeypatch.setattr(distributed, "Replica", lambda *a, **k: wrapped.append(1) or real(*a, **k))
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29541")
    torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    try:
        grouped, *_ = _fit(raw)
    finally:
        torch.distributed.destroy_process_group()
    assert wrapped == [1]
    for (name, a), b in zip(alone.state_dict().items(), grouped.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
