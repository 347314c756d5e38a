"""Reinforcement learning and self-play: agents learn (beating a random policy on held-out
episodes), resume exactly after a kill mid-rollout, export, serve, and refuse bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import deepworks

pytest.importorskip("gymnasium")


def _ppo(steps: int = 10240, epochs: int = 2, **agent) -> dict:
    return {
        "name": "cartpole-ppo", "seed": 0, "task": "ppo",
        "data": {"dataset": "cartpole", "steps_per_epoch": steps, "batch_size": 256},
        "model": {"name": "actor-critic"},
        "agent": {"envs": 8, "gamma": 0.98, "gae_lambda": 0.8, "update_epochs": 20,
                  "minibatches": 1} | agent,
        "train": {"epochs": epochs, "optimizer": {"lr": 0.001}, "early_stopping": {"patience": 9}},
    }  # fmt: skip


def _dqn(steps: int = 10240, epochs: int = 2, **agent) -> dict:
    return {
        "name": "cartpole-dqn", "seed": 1, "task": "dqn",
        "data": {"dataset": "cartpole", "steps_per_epoch": steps, "batch_size": 256},
        "model": {"name": "q-network", "hidden": [64, 64]},
        "agent": {"learning_starts": 1000, "gradient_steps": 64} | agent,
        "train": {"epochs": epochs, "optimizer": {"lr": 0.0023}},
        "evaluate": {"explain": 0},
    }  # fmt: skip


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return deepworks.run(_ppo(), runs_dir=runs, threads=1, progress=False)


def test_ppo_learns_cartpole_far_beyond_a_random_policy(ppo_run):
    test = ppo_run.metrics["test"]  # 100 episodes from seeds training never met
    assert test["mean_return"] >= 200 and test["mean_return"] > 5 * test["random_mean_return"]
    rows = {r["model"]: r["mean_return"] for r in ppo_run.leaderboard.to_dict("records")}
    assert set(rows) == {"actor-critic (deep)", "random"}
    history = ppo_run.history()
    assert [r["env_steps"] for r in history] == [10240, 20480]  # learning against steps
    best = max(range(2), key=lambda i: history[i]["valid_mean_return"])
    assert ppo_run.info["best_epoch"] == best + 1  # early stopping follows the return
    assert {"entropy", "approx_kl", "explained_variance", "train_return"} <= set(history[0])
    assert (ppo_run.path / "returns.png").is_file() and (ppo_run.path / "episode.gif").is_file()
    assert "image/gif" in (ppo_run.path / "report.html").read_text()  # the episode, shown
    why = (ppo_run.path / "explanations" / "explanations.csv").read_text().splitlines()
    assert len(why) == 5  # four observations of a test episode, each action explained


def test_a_run_is_judged_again_on_more_episodes_and_answers_observations(ppo_run, cli):
    again = ppo_run.evaluate_episodes(20)
    assert again["mean_return"] >= 150 and again["episode_length"] == again["mean_return"]
    out = cli("evaluate", ppo_run.path, "--episodes", "3")
    assert out.code == 0 and '"mean_return"' in out.out
    falling = np.array([[0, 0, 0.2, 0.5], [0, 0, -0.2, -0.5]])
    frame = ppo_run.predict(falling)
    assert list(frame["action"]) == [1, 0]  # a pole falling right is pushed right
    why = ppo_run.explain(falling)  # the pole's angle and its speed decide, not the cart's place
    weight = np.abs(why.attributions["integrated-gradients"]).mean(0)
    assert weight[2:].sum() > weight[:2].sum()
    assert np.allclose(frame[["probability_0", "probability_1"]].sum(axis=1), 1)
    from fastapi.testclient import TestClient

    from deepworks.deploy.server import create_app

    with TestClient(create_app(ppo_run)) as client:
        answer = client.post("/predict", json={"observation": [0, 0, 0.2, 0.5]})
        assert answer.status_code == 200 and answer.json()["action"] == 1
        short = client.post("/predict", json={"observation": [0, 0, 0.2]})
        assert short.status_code == 422 and "has 4 numbers" in short.text


def test_an_exported_policy_acts_as_the_eager_one(ppo_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from deepworks.deploy.export import ExportedModel, export_network
    from deepworks.modalities.environment.sources import test_episodes

    x = ppo_run.task.example_inputs(ppo_run.model, test_episodes(0))  # observations it met
    exported = export_network(ppo_run.model, x, "onnx", tmp_path / "p.onnx")
    assert exported["parity"] < 1e-4
    runtime = ppo_run.model.around_exported(ExportedModel(tmp_path / "p.onnx"))
    assert torch.equal(runtime(x).argmax(-1), ppo_run.model(x).argmax(-1))


@pytest.mark.slow
def test_dqn_learns_cartpole_beyond_a_random_policy(tmp_path):
    run = deepworks.run(_dqn(), runs_dir=tmp_path, threads=1, progress=False)
    test = run.metrics["test"]
    assert test["mean_return"] > 2 * test["random_mean_return"]
    assert run.history()[-1]["epsilon"] < run.history()[0]["epsilon"]  # exploration fell


def _self_play(games: int = 40, epochs: int = 2, play: int = 48) -> dict:
    return {
        "name": "tic-tac-toe", "seed": 0,
        "data": {"dataset": "tic-tac-toe", "steps_per_epoch": games, "batch_size": 10,
                 "episodes": 6},
        "model": {"name": "policy-value", "hidden": [64, 64]},
        "agent": {"simulations": 24, "play_simulations": play, "updates": 16},
        "train": {"epochs": epochs, "optimizer": {"lr": 0.002}}, "evaluate": {"explain": 0},
    }  # fmt: skip


@pytest.mark.parametrize(
    # self-play: its 100 test games with a light search (at 48 they took 27 s of each run)
    "config", [_ppo(2048), _dqn(2048, learning_starts=256), _self_play(20, play=6)],
    ids=["ppo", "dqn", "self-play"],
)  # fmt: skip
def test_a_run_killed_mid_rollout_resumes_to_the_same_weights(config, tmp_path):
    """A real SIGKILL while the agent acts (checkpoints every round): the environments'
    episodes are replayed, the replay buffer, target network and self-play positions
    restored."""
    import yaml
    from safetensors.torch import load_file

    config["train"] |= {"checkpoint_every_steps": 1}
    config["evaluate"] = {"explain": 0, "baselines": False}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))

    def cli(*args):
        cmd = [sys.executable, "-m", "deepworks.cli", *args, "--threads", "1", "-q"]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    full = cli("run", str(path), "--runs-dir", str(tmp_path / "full"))
    assert full.wait(timeout=300) == 0, full.stderr.read()
    victim = cli("run", str(path), "--runs-dir", str(tmp_path / "killed"))
    deadline, state = time.time() + 120, None
    while time.time() < deadline and victim.poll() is None:
        found = list((tmp_path / "killed").glob("*/checkpoints/last.json"))
        try:
            state = json.loads(found[0].read_text()) if found else None
        except json.JSONDecodeError:
            state = None
        if state and state["epoch"] == 1 and state["step_in_epoch"] >= 2:
            break
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert state and not state["done"]  # killed in the second epoch, mid-way
    resumed = cli("resume", config["name"], "--runs-dir", str(tmp_path / "killed"))
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    (a,) = (tmp_path / "full").glob("*/model.safetensors")
    (b,) = (tmp_path / "killed").glob("*/model.safetensors")
    wa, wb = load_file(a), load_file(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    def history(p):
        return [json.loads(x) for x in (p.parent / "metrics.jsonl").read_text().splitlines()]

    assert history(a) and [{k: v for k, v in r.items() if k != "seconds"} for r in history(a)] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in history(b)
    ]


def test_self_play_learns_tic_tac_toe_and_plays_a_person(tmp_path, cli, monkeypatch):
    run = deepworks.run(_self_play(), runs_dir=tmp_path, threads=1, progress=False)
    test = run.metrics["test"]  # 100 games each against a random player and perfect play
    assert test["win_rate_random"] >= 0.6 and test["score"] > test["random_score"]
    assert run.schema.task == "self-play"  # the data's own task
    said: list[str] = []
    moves = iter(["x", "0", "5", "1", "3", "7", "9", "2", "4", "6", "8"])  # bad answers re-asked
    outcome = run.play(ask=lambda _: next(moves), tell=said.append)
    assert outcome in (-1, 0, 1) and said[-1] in ("you win", "the agent wins", "a draw")
    assert outcome != 1 or test["loss_rate_minimax"] > 0  # it never loses to these blunders
    frame = run.predict([[1, 1, 0, -1, -1, 0, 0, 0, 0]])  # the network's own move shares
    assert frame[[f"probability_{i}" for i in (0, 1, 3, 4)]].to_numpy().max() == 0  # taken
    assert frame["move"][0] in (2, 5, 6, 7, 8)
    assert run.task.agent(run.model)((1, 1, 0, -1, -1, 0, 0, 0, 0), 1) == 2  # search: the win
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("5\n1\n3\n4\n6\n7\n8\n9\n2\n"))
    out = cli("play", run.path)
    assert out.code == 0 and ("a draw" in out.out or "wins" in out.out)


def test_the_minimax_judge_never_loses_and_a_new_judge_searches_nothing_known(monkeypatch):
    from deepworks.modalities.environment.games import GAMES, Minimax

    game = GAMES["tic-tac-toe"]

    def match(first, second) -> int:
        board, player = game.start(), 1
        while (won := game.winner(board)) is None:
            move = (first if player == 1 else second)(board, player)
            board, player = game.play(board, move, player), -player
        return won

    for seed in range(20):  # a fresh judge for each game, as a run's evaluation makes them
        rng = np.random.default_rng(100 + seed)
        randomly = lambda board, player, rng=rng: int(rng.choice(game.legal(board)))  # noqa: E731
        judge = Minimax(game, None, np.random.default_rng(seed)).choose
        assert (match(judge, randomly) if seed % 2 else -match(randomly, judge)) >= 0
    judges = lambda: [Minimax(game, None, np.random.default_rng(s)).choose for s in (0, 1)]  # noqa: E731
    assert match(*judges()) == 0  # perfect play draws
    searched = []
    search = Minimax._search
    monkeypatch.setattr(Minimax, "_search", lambda *a: searched.append(a) or search(*a))
    assert match(*judges()) == 0 and not searched  # the same game again: every value known


@pytest.mark.parametrize(
    "yaml_text, fragments",
    [
        ("data: {dataset: gymnasium, environment: CartPol-v1}\nmodel: {name: actor-critic}\n",
         ["CartPol-v1", "CartPole"]),
        ("data: {dataset: gymnasium}\nmodel: {name: actor-critic}\n", ["data.environment"]),
        ("data: {dataset: cartpole}\nmodel: {name: actor-critic}\nagent: {gama: 0.9}\n",
         ["gama", "gamma"]),
        ("data: {dataset: cartpole}\nmodel: {name: actor-critic}\nagent: {envs: many}\n",
         ["envs"]),
        ("task: dqn\ndata: {dataset: pendulum}\nmodel: {name: q-network}\n", ["discrete"]),
        ("task: ppo\ndata: {dataset: tic-tac-toe}\nmodel: {name: actor-critic}\n",
         ["self-play"]),
        ("data: {dataset: iris}\nmodel: {name: mlp}\nagent: {gamma: 0.9}\n", ["agent"]),
    ],
    ids=["unknown id", "no id", "agent typo", "agent type", "dqn continuous", "game by ppo",
         "agent for a classifier"],
)  # fmt: skip
def test_a_bad_environment_config_is_one_clear_error(yaml_text, fragments, tmp_path, cli):
    from tests.bad_inputs.helpers import refused

    (tmp_path / "c.yaml").write_text(yaml_text)
    refused(cli("run", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs"), *fragments)


def test_a_pool_of_environments_replays_to_the_same_state():
    from deepworks.modalities.environment.envs import EnvPool

    a = EnvPool("CartPole-v1", 3, seed=7)
    rng = np.random.default_rng(0)
    for _ in range(40):
        a.step(rng.integers(0, 2, 3))
    b = EnvPool("CartPole-v1", 3, seed=7)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.obs, b.obs) and a.episodes == b.episodes
    for _ in range(30):  # and goes on as one
        actions = rng.integers(0, 2, 3)
        assert np.array_equal(a.step(actions)[0], b.step(actions)[0])


@pytest.mark.parametrize(
    "config", [_ppo(1024, epochs=1), _dqn(1024, epochs=1, learning_starts=256)], ids=["ppo", "dqn"]
)
def test_observation_normalization_is_learned_and_kept_in_the_model(config, tmp_path):
    config["model"]["normalize"] = True
    config["evaluate"] = {"explain": 0, "baselines": False}
    run = deepworks.run(config, runs_dir=tmp_path, threads=1, progress=False)
    norm = run.model.norm  # as saved with the weights: what predict, serve and export use
    assert float(norm.count) >= 512 and float(norm.var[2]) < 0.1  # a pole's angle stays small
