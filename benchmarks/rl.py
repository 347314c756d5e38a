"""Reinforcement learning: each example trained as `deepworks run` trains it, beside
Stable-Baselines3 — the library people would pick instead — given the same environment,
seed, environment-step budget, hyperparameters and protocol (greedy evaluation on 10 episodes
after every epoch's steps, the best weights kept, then 100 test episodes on the same seeds).
Training seconds are wall-clock, evaluation episodes included, on the same threads. Writes
the table into docs/benchmarks.md.

    python benchmarks/rl.py --threads 1 [--only cartpole-ppo ...] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import kept_rows, markdown_table, write_section

import deepworks
from deepworks.catalog import load_config
from deepworks.modalities.environment.envs import play_episodes
from deepworks.modalities.environment.sources import test_episodes
from deepworks.tasks import load_data

EXAMPLES = ("cartpole-ppo", "cartpole-dqn", "acrobot-ppo", "pendulum-ppo")


def sb3_model(cfg, env_id: str):
    """The example's algorithm and settings, in Stable-Baselines3's names."""
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    a, model, lr = cfg.agent, cfg.model.params, cfg.train.optimizer.lr
    hidden = model.get("hidden", [64, 64])
    if cfg.task == "dqn":
        env = make_vec_env(env_id, n_envs=1, seed=cfg.seed)
        return DQN(
            "MlpPolicy", env, learning_rate=lr, buffer_size=a.get("buffer", 100_000),
            learning_starts=a.get("learning_starts", 1000), batch_size=a.get("minibatch", 64),
            gamma=a.get("gamma", 0.99), train_freq=cfg.data.batch_size,
            gradient_steps=a.get("gradient_steps", 128),
            target_update_interval=cfg.data.batch_size,
            exploration_fraction=a.get("exploration", 0.16),
            exploration_final_eps=a.get("epsilon_end", 0.04),
            policy_kwargs={"net_arch": hidden}, seed=cfg.seed, device="cpu",
        )  # fmt: skip
    envs = a.get("envs", 8)
    env = make_vec_env(env_id, n_envs=envs, seed=cfg.seed)
    if model.get("normalize"):
        env = VecNormalize(env, norm_obs=True, norm_reward=True)  # the zoo's `normalize: true`
    return PPO(
        "MlpPolicy", env, learning_rate=lambda left: lr * left,
        n_steps=cfg.data.batch_size // envs,
        batch_size=cfg.data.batch_size // a.get("minibatches", 4),
        n_epochs=a.get("update_epochs", 10), gamma=a.get("gamma", 0.99),
        gae_lambda=a.get("gae_lambda", 0.95), clip_range=a.get("clip", 0.2),
        ent_coef=a.get("entropy", 0.0), policy_kwargs={"net_arch": hidden},
        seed=cfg.seed, device="cpu",
    )  # fmt: skip


def sb3_run(example: str, seed: int) -> dict:
    """Stable-Baselines3 on the example's budget; its best-on-validation policy scored on
    the test episodes deepworks plays."""
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env

    cfg = load_config(f"examples/{example}.yaml", [f"seed={seed}"])
    env_id = load_data(cfg.data, cfg.task, seed).schema.encoder["environment"]
    model = sb3_model(cfg, env_id)
    steps = cfg.data.steps_per_epoch * cfg.train.epochs
    with tempfile.TemporaryDirectory() as best:
        judge = make_vec_env(env_id, n_envs=1, seed=seed + 10**6)
        if hasattr(model.env, "obs_rms"):  # evaluation reads observations as training does
            from stable_baselines3.common.vec_env import VecNormalize

            judge = VecNormalize(judge, norm_obs=True, norm_reward=False, training=False)
        every = max(cfg.data.steps_per_epoch // model.n_envs, 1)
        callback = EvalCallback(judge, n_eval_episodes=cfg.data.episodes, eval_freq=every,
                                best_model_save_path=best, verbose=0)  # fmt: skip
        start = time.perf_counter()
        model.learn(steps, callback=callback)
        seconds = time.perf_counter() - start
        model = type(model).load(f"{best}/best_model", device="cpu")
    norm = getattr(callback.eval_env, "obs_rms", None)

    def act(obs: np.ndarray) -> np.ndarray:
        if norm is not None:
            obs = np.clip((obs - norm.mean) / np.sqrt(norm.var + 1e-8), -10, 10)
        return model.predict(obs, deterministic=True)[0]

    seeds = test_episodes(seed).x.tolist()
    returns, _ = play_episodes(act, env_id, seeds)
    return {"mean": returns.mean(), "std": returns.std(), "seconds": seconds, "steps": steps}


def ours(example: str, seed: int, threads: int, runs: Path) -> dict:
    run = deepworks.run(f"examples/{example}.yaml", runs_dir=runs, threads=threads,
                        overrides=[f"seed={seed}"], progress=False)  # fmt: skip
    t, history = run.metrics["test"], run.history()
    return {
        "mean": t["mean_return"], "std": t["return_std"],
        "seconds": sum(r["seconds"] for r in history), "steps": int(history[-1]["env_steps"]),
        "random": t.get("random_mean_return"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for example in args.only:
            for seed in args.seeds:
                mine = ours(example, seed, args.threads, Path(runs))
                torch.set_num_threads(args.threads)
                theirs = sb3_run(example, seed)
                row = [
                    f"{example} (seed {seed})", f"{mine['steps']:,}",
                    f"{mine['mean']:.1f} ± {mine['std']:.1f}",
                    f"{theirs['mean']:.1f} ± {theirs['std']:.1f}",
                    f"{mine['random']:.1f}", f"{mine['seconds']:.0f}",
                    f"{theirs['seconds']:.0f}", f"{mine['seconds'] / theirs['seconds']:.2f}×",
                ]  # fmt: skip
                print(" | ".join(row), flush=True)
                rows.append(row)
    header = ["example", "env steps", "deepworks return (100 test ep.)", "SB3 return",
              "random", "deepworks s", "SB3 s", "time ratio"]  # fmt: skip
    body = (
        f"`python benchmarks/rl.py --threads {args.threads}` (CPU, {args.threads} thread(s); "
        "the same environment, seed, step budget, hyperparameters and evaluation protocol; "
        "returns are mean ± std over the same 100 test episodes; seconds are training wall "
        "time, evaluation episodes included). SB3's DQN is plain DQN, deepworks' double DQN; "
        "where an example normalizes observations, SB3 normalizes observations and rewards "
        "(the zoo's `normalize: true`; without the rewards it never swung Acrobot up).\n\n"
        + markdown_table(header, kept_rows("rl", rows))
    )
    write_section("rl", body)


if __name__ == "__main__":
    main()
