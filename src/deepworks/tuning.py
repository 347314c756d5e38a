"""Hyperparameter search (`deepworks tune`): Optuna over the config's `tune:` space.

Every trial is an ordinary run (folder, metrics, report), named after its study and tagged
with it; it is judged by the validation split's main metric (the test split stays out of
every choice) and pruned — stopped, then evaluated and reported like an early stop — when its
per-epoch validation metric falls behind the median of earlier trials at the same epoch. The
study lives in `<runs>/studies.sqlite`, so `deepworks tune` run again continues it: trials a
killed search left running are marked failed and their settings tried again, finished ones
are never redone. The config's own values are the first trial, so the search starts from the
default it must beat. The best trial's config is written to `<runs>/<study>-best.yaml`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deepworks.catalog import load_config
from deepworks.config import ExperimentConfig
from deepworks.config.experiment import TuneRange
from deepworks.core.errors import ConfigError, RunError, require
from deepworks.core.task import TASKS
from deepworks.experiment import run as run_experiment
from deepworks.train.trainer import Callback


@dataclass
class TuneResult:
    study: str
    best_value: float
    best_params: dict[str, Any]
    best_run: str
    best_config: Path
    trials: list[dict[str, Any]]  # number, state, value, params, run


class _Pruning(Callback):
    """Reports each epoch's validation metric to the trial; stops the run when Optuna's
    pruner says it is behind (the run then ends as an early stop does)."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.metric, self.pruned = trial, metric, False

    def on_epoch_end(self, trainer: Any, record: dict[str, float]) -> None:
        if self.metric not in record:
            return
        self.trial.report(record[self.metric], int(record["epoch"]))
        if self.trial.should_prune():
            self.pruned = trainer.state.stopped_early = True


def _suggest(trial: Any, key: str, spec: list[Any] | TuneRange) -> Any:
    if isinstance(spec, list):  # by index: Optuna's choices must be plain scalars
        return spec[trial.suggest_categorical(key, list(range(len(spec))))]
    if spec.low.is_integer() and spec.high.is_integer() and (spec.step or 1).is_integer():
        return trial.suggest_int(key, int(spec.low), int(spec.high), step=int(spec.step or 1),
                                 log=spec.log)  # fmt: skip
    return trial.suggest_float(key, spec.low, spec.high, step=spec.step, log=spec.log)


def _raw(config: str | Path | dict[str, Any]) -> dict[str, Any]:
    if isinstance(config, dict):
        return json.loads(json.dumps(config))
    return yaml.safe_load(Path(config).read_text(encoding="utf-8"))


def _get(raw: dict[str, Any], key: str) -> Any:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _defaults(raw: dict[str, Any], space: dict[str, Any]) -> dict[str, Any]:
    """The config's own values as a trial's parameters, where the space holds them."""
    out = {}
    for key, spec in space.items():
        value = _get(raw, key)
        if isinstance(spec, list) and value in spec:
            out[key] = spec.index(value)
        elif isinstance(spec, TuneRange) and isinstance(value, int | float):
            out.update({key: value} if spec.low <= value <= spec.high else {})
    return out


def _direction(cfg: ExperimentConfig) -> tuple[str, str]:
    from deepworks.data.bundle import infer_task, load_source

    task = TASKS.get(infer_task(load_source(cfg.data), cfg.data, cfg.task))
    metric = cfg.evaluate.main_metric or task.main_metric
    return metric, "minimize" if metric in task.lower_is_better else "maximize"


@contextlib.contextmanager
def _owning(runs_dir: Path, study: str):
    """One search per study at a time; the lock dies with its process."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    handle = open(runs_dir / f".{study}.tune-lock", "a+")  # noqa: SIM115 - held while tuning
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RunError(f"study `{study}` is being tuned by another process") from None
    try:
        yield
    finally:
        handle.close()


def tune(
    config: str | Path | dict[str, Any],
    trials: int,
    *,
    timeout: float | None = None,
    runs_dir: str | Path = "runs",
    threads: int | None = None,
    progress: bool = True,
) -> TuneResult:
    """Search the config's `tune:` space until the study holds ``trials`` finished trials
    (or ``timeout`` seconds pass); returns the best.

    >>> deepworks.tune("examples/breast-cancer.yaml", trials=20)  # doctest: +SKIP
    """
    optuna = require("optuna", "tune", "hyperparameter search")
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, not {trials}")
    cfg, raw, runs_dir = load_config(config), _raw(config), Path(runs_dir)
    if not cfg.tune:
        raise ConfigError(
            "the config has no `tune:` section to search; add one, e.g. tune: {model.hidden: "
            "[[16], [64]], train.optimizer.lr: {low: 0.0001, high: 0.01, log: true}}"
        )
    for key, spec in cfg.tune.items():  # every key a setting the config takes, every value
        probe = spec if isinstance(spec, list) else [spec.low, spec.high]
        for value in probe:
            load_config(config, [f"{key}={json.dumps(value)}"])
    metric, direction = _direction(cfg)
    study_name = cfg.name or f"{cfg.data.dataset}-{cfg.model.name}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _owning(runs_dir, study_name):
        storage = f"sqlite:///{(runs_dir / 'studies.sqlite').resolve()}"
        study = optuna.create_study(
            study_name=study_name, storage=storage, direction=direction, load_if_exists=True,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
        )  # fmt: skip
        # a continued search draws on from where it stopped, not the same draws again
        study.sampler = optuna.samplers.TPESampler(seed=cfg.seed + len(study.trials))
        _recover(study, optuna)
        if not study.trials:
            study.enqueue_trial(_defaults(raw, cfg.tune))  # the config as written, first

        def objective(trial: Any) -> float:
            overrides = [f"{k}={json.dumps(_suggest(trial, k, s))}" for k, s in cfg.tune.items()]
            pruning = _Pruning(trial, f"valid_{metric}")
            result = run_experiment(
                config, runs_dir=runs_dir, threads=threads, progress=progress,
                overrides=[*overrides, f"name={study_name}-trial-{trial.number}"],
                callbacks=[pruning], info={"study": study_name, "trial": trial.number},
            )  # fmt: skip
            trial.set_user_attr("run", str(result.path))
            trial.set_user_attr("settings", dict(s.split("=", 1) for s in overrides))
            if pruning.pruned:
                result.folder.update_info(pruned=True)
                raise optuna.TrialPruned()
            return float(result.metrics["valid"][metric])

        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        left = trials - len(study.get_trials(states=finished))
        if left > 0:
            study.optimize(objective, n_trials=left, timeout=timeout, catch=(ConfigError,))
    return _result(study, raw, runs_dir, optuna)


def _recover(study: Any, optuna: Any) -> None:
    """Trials a killed search left running: failed, and their settings queued again."""
    for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params)


def _result(study: Any, raw: dict[str, Any], runs_dir: Path, optuna: Any) -> TuneResult:
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise RunError(f"study `{study.study_name}` has no finished trial yet")
    best = study.best_trial
    settings = {k: yaml.safe_load(v) for k, v in best.user_attrs["settings"].items()}
    best_raw = {k: v for k, v in raw.items() if k != "tune"}
    for key, value in settings.items():
        *path, last = key.split(".")
        node = best_raw
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    written = runs_dir / f"{study.study_name}-best.yaml"
    written.write_text(yaml.safe_dump(best_raw, sort_keys=False), encoding="utf-8")
    rows = [
        {"number": t.number, "state": t.state.name.lower(), "value": t.value,
         "settings": t.user_attrs.get("settings", {}), "run": t.user_attrs.get("run")}
        for t in study.trials
    ]  # fmt: skip
    return TuneResult(study.study_name, best.value, settings, best.user_attrs["run"], written, rows)
