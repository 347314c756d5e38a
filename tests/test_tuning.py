"""Hyperparameter search: every trial an ordinary run judged on validation, the config's own
values first, pruning that stops a run like an early stop, and a killed search continued
without redoing a finished trial."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

import deepworks

optuna = pytest.importorskip("optuna")

CONFIG = {
    "name": "iris-search",
    "data": {"dataset": "iris", "batch_size": 16},
    "model": {"name": "mlp", "hidden": [8]},
    "train": {"epochs": 4, "optimizer": {"lr": 0.01}},
    "evaluate": {"baselines": False, "explain": 0},
    "tune": {
        "model.hidden": [[8], [32]],
        "train.optimizer.lr": {"low": 0.001, "high": 0.05, "log": True},
    },
}


def _finished(runs):
    storage = f"sqlite:///{(runs / 'studies.sqlite').resolve()}"
    study = optuna.load_study(study_name="iris-search", storage=storage)
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(states=states)


def test_a_search_runs_its_trials_as_runs_and_writes_the_best_config(tmp_path):
    result = deepworks.tune(CONFIG, trials=3, runs_dir=tmp_path, threads=1, progress=False)
    assert [t["number"] for t in result.trials] == [0, 1, 2]
    first = result.trials[0]["settings"]  # the config's own values come first
    assert first == {"model.hidden": "[8]", "train.optimizer.lr": "0.01"}
    for trial in result.trials:
        info = json.loads((tmp_path / trial["run"].split("/")[-1] / "run.json").read_text())
        assert info["study"] == "iris-search" and info["trial"] == trial["number"]
        assert info["status"] == "completed"
    valid = [t["value"] for t in result.trials if t["value"] is not None]
    assert result.best_value == max(valid)  # accuracy: higher is better, on validation
    best = yaml.safe_load(result.best_config.read_text())
    assert "tune" not in best and best["model"]["hidden"] == result.best_params["model.hidden"]
    assert deepworks.load_config(best).model.params["hidden"] == best["model"]["hidden"]
    again = deepworks.tune(CONFIG, trials=3, runs_dir=tmp_path, threads=1, progress=False)
    assert len(again.trials) == 3  # the study already holds them: nothing is redone


def test_a_pruned_trial_stops_like_an_early_stop_and_is_still_reported(tmp_path):
    from deepworks.tuning import _Pruning

    class Behind:  # a trial Optuna judges behind the others from its first epoch
        def report(self, value, step):
            self.value = value

        def should_prune(self):
            return True

    pruning = _Pruning(Behind(), "valid_accuracy")
    run = deepworks.run(CONFIG, runs_dir=tmp_path, threads=1, progress=False,
                        callbacks=[pruning])  # fmt: skip
    assert pruning.pruned and len(run.history()) == 1
    assert run.info["stopped_early"] and "accuracy" in run.metrics["test"]


def test_a_killed_search_continues_without_redoing_finished_trials(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "deepworks.cli", "tune", str(path), "--trials", "5",
           "--runs-dir", str(runs), "--threads", "1", "-q"]  # fmt: skip
    victim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    # Read the folders, not the study (opening it while the search creates it would race):
    # a third trial's run has begun once the first two are finished and recorded.
    while time.time() < deadline and victim.poll() is None:
        if len(list(runs.glob("*/run.json"))) >= 3:
            break
        time.sleep(0.05)
    assert victim.poll() is None, victim.stderr.read()  # still searching when killed
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    before = {t.number: t.params for t in _finished(runs)}
    assert 2 <= len(before) < 5
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = _finished(runs)
    assert len(after) == 5  # the study ends with the trials asked for
    assert {t.number: t.params for t in after if t.number in before} == before  # kept as they were
    assert len({json.dumps(t.params, sort_keys=True) for t in after}) == 5  # none repeated
    runs_of = [t.user_attrs["run"] for t in after]
    assert len(set(runs_of)) == 5  # each finished trial its own run, none trained twice
    assert "best config" in again.stdout


@pytest.mark.parametrize(
    "tune, fragments",
    [(None, ["tune:"]), ({"model.hiden": [[8]]}, ["hiden"]),
     ({"model.hidden": []}, ["model.hidden", "no values"]),
     ({"train.optimizer.lr": {"low": 0.1, "high": 0.01}}, ["low", "high"])],
    ids=["no space", "a key the config lacks", "an empty list", "a range upside down"],
)  # fmt: skip
def test_a_bad_search_space_is_one_clear_error(tune, fragments, tmp_path, cli):
    from tests.bad_inputs.helpers import refused

    config = {k: v for k, v in CONFIG.items() if k != "tune"} | ({"tune": tune} if tune else {})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    refused(cli("tune", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs"), *fragments)


def test_model_auto_trains_each_fitting_family_and_keeps_the_best_on_validation(tmp_path):
    config = {k: v for k, v in CONFIG.items() if k != "tune"} | {
        "name": "iris-auto", "model": {"name": "auto"}
    }  # fmt: skip
    run = deepworks.run(config, runs_dir=tmp_path, threads=1, progress=False)
    tried = json.loads((run.path / "auto.json").read_text())["candidates"]
    assert [c["model"] for c in tried] == ["mlp hidden=[16] dropout=0.2", "mlp hidden=[128,64]"]
    chosen = [c for c in tried if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["run"] == run.folder.id
    assert chosen[0]["valid_accuracy"] == max(c["valid_accuracy"] for c in tried)
    board = run.leaderboard
    assert sum("(auto candidate)" in m for m in board["model"]) == 1  # the other one
    assert board["accuracy"].is_monotonic_decreasing
    for c in tried:  # every candidate an ordinary run, tagged
        assert json.loads((tmp_path / c["run"] / "run.json").read_text())["auto"] == "iris-auto"


def test_model_auto_without_a_fitting_family_says_so(tmp_path, cli):
    from tests.bad_inputs.helpers import refused

    config = {k: v for k, v in CONFIG.items() if k != "tune"}
    config["model"] = {"name": "auto", "candidates": ["cnn"]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    refused(cli("run", tmp_path / "c.yaml", "--runs-dir", tmp_path / "r"), "auto", "cnn")
    config["model"] = {"name": "auto", "budjet": 10}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    refused(cli("run", tmp_path / "c.yaml", "--runs-dir", tmp_path / "r"), "budjet", "budget")
