from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from deepworks.cli import main
from deepworks.core.garbage import collect_oldest_rarely

ROOT = Path(__file__).resolve().parents[1]
# A plug-in package the plug-in test installs into a temporary folder: never imported here.
collect_ignore = ["plugin_demo"]
EXAMPLES = ROOT / "examples"

# Two test workers share two cores: one thread each avoids oversubscription.
torch.set_num_threads(1)
# A test process is long-lived like a command's: full collections would walk every library's
# objects again and again (1.4 s of the baselines' and explanations' tests, 0.3 s with this)
collect_oldest_rarely()


def tiny_config(dataset: str = "iris", model: str = "mlp", **train) -> dict:
    """A small, fast experiment as a dict; ``train`` keys override the training section."""
    return {
        "data": {"dataset": dataset, "batch_size": 16},
        "model": {"name": model, "hidden": [16]} if model == "mlp" else {"name": model},
        "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.01}, **train},
    }


class CLIResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def last_line(self) -> str:
        return self.out.strip().splitlines()[-1]


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run the real `deepworks` entry point in-process; returns exit code, stdout, stderr."""

    def invoke(*args: str) -> CLIResult:
        monkeypatch.setattr(sys, "argv", ["deepworks", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CLIResult(code, captured.out, captured.err)

    return invoke


def assert_user_error(result: CLIResult, *fragments: str) -> None:
    """A user's mistake: non-zero exit, one clear `error:` message, no traceback."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert "error:" in result.err
    assert "Traceback" not in result.err + result.out
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


class Killed(Exception):
    """Stands in for a SIGKILL in in-process resume tests."""


def trainer_killed_when(condition):
    """A Trainer subclass that dies right after the checkpoint where ``condition(state)``."""
    from deepworks.train.trainer import Trainer

    class KilledTrainer(Trainer):
        def __init__(self, cfg, *args, **kwargs):  # a checkpoint at every epoch's end
            super().__init__(cfg.model_copy(update={"checkpoint_budget": 1.0}), *args, **kwargs)

        def _save(self, *args, **kwargs):
            super()._save(*args, **kwargs)
            if condition(self.state):
                raise Killed

    return KilledTrainer


def killed_and_resumed(raw: dict, task: str, tmp_path: Path, kill_after_epoch: int):
    """Train ``raw`` whole, and again killed after an epoch's checkpoint then resumed;
    returns both models (built from the same seed) for comparison."""
    import pytest

    from deepworks.catalog import load_config
    from deepworks.models import build_model
    from deepworks.tasks import get_task, load_data
    from deepworks.train.trainer import Trainer

    cfg = load_config(raw)
    bundle = load_data(cfg.data, task)

    def fit(trainer_cls, folder, resume=False):
        torch.manual_seed(0)
        model = build_model(cfg.model.name, cfg.model.params, bundle.schema)
        trainer = trainer_cls(
            cfg.train, batch_size=cfg.data.batch_size, progress=False, checkpoint_dir=folder
        )
        trainer.fit(model, get_task(bundle.schema), bundle.train, bundle.valid, resume=resume)
        return model

    full = fit(Trainer, tmp_path / "full")
    with pytest.raises(Killed):
        fit(trainer_killed_when(lambda s: s.epoch == kill_after_epoch), tmp_path / "killed")
    return full, fit(Trainer, tmp_path / "killed", resume=True)
