"""Traditional machine learning on the very same split: the baselines of the leaderboard.

Each baseline is a scikit-learn estimator (deepworks.traditional) trained on the run's own
training split (the encoded features: standardized table columns, flattened image pixels, the
tokenizer's token ids) and scored on its test split with the task's own metric code, so the
rows compare directly with the deep model. Each row also says how long it trained and how big
it is; rows are cached by a fingerprint of the split they were fit on. A helper process may
fit them (``traditional.fit``); this process scores what they output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.errors import ConfigError
from deepworks.core.task import TASKS, Task, get_task, has_tag
from deepworks.data.datasets import first_rows
from deepworks.traditional.estimators import ALWAYS, BASELINES
from deepworks.traditional.fit import Arrays, fit_outputs, fitted_file, made, settings
from deepworks.train.checkpoint import write_json

# Baselines train on at most this many examples (a stratified-enough random sample beyond).
MAX_TRAIN = 20_000


def fitting(task: str, modality: str, chosen: bool | list[str]) -> list[str]:
    """The baselines to run: all that fit the task and data, or the chosen ones."""
    fits = [e.name for e in BASELINES if task in e.obj.tasks and modality in e.obj.modalities]
    always = [ALWAYS] if ALWAYS in fits else []
    if chosen is True:
        asked = [n for n in fits if modality in BASELINES.get(n).asked_on]
        return always + [n for n in fits if n not in always and n not in asked]
    if chosen is False:
        return always
    own = TASKS.get(task).own_baselines  # the task scores these itself (pocketsphinx ...)
    for name in (n for n in chosen if n not in own):
        BASELINES.get(name)  # unknown names: the registry's error, with suggestions
        if name not in fits:
            raise ConfigError(
                f"evaluate.baselines: `{name}` does not do {task} on {modality} data; "
                f"ones that do: {', '.join([*fits, *own]) or 'none'}"
            )
    return always + [n for n in chosen if n not in always and n not in own]


def _fingerprint(*parts: Any) -> str:
    """What makes a baseline's row: the split's arrays, the task, metric, seed, scikit-learn."""
    import sklearn

    digest = hashlib.sha256(sklearn.__version__.encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(str(part).encode())
    return digest.hexdigest()


def _read_cached(cache: Path, key: str) -> dict[str, Any] | None:
    path = cache / f"{key}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a damaged entry: fit again, and write it anew
        return None


def ranked_by(task: Task, main: str | None) -> tuple[str, str]:
    """The metric the board ranks by (`evaluate.main_metric`, or the task's own when a
    baseline cannot be scored on it), and the note that says so."""
    note = ""
    if main and main not in task.metric_factories():
        note = f"ranked by {task.main_metric}: baselines cannot be scored on {main}"
    return (task.main_metric if not main or note else main), note


@dataclass
class Plan:
    """The chosen baselines on one split: the arrays they train and score on, and each one's
    cache key (the split's fingerprint, its name and its settings)."""

    schema: Any
    main: str
    seed: int
    cache: Path
    keys: dict[str, str]  # name → cache key
    arrays: Arrays

    def cached(self) -> dict[str, dict[str, Any]]:
        """The rows the cache has, by baseline name."""
        rows = {name: _read_cached(self.cache, key) for name, key in self.keys.items()}
        return {name: row for name, row in rows.items() if row is not None}

    def unfitted(self, cached: dict[str, dict[str, Any]] | None = None) -> list[str]:
        """The baselines neither ``cached`` (read now if not given) nor fit and waiting to be
        scored."""
        cached = self.cached() if cached is None else cached
        return [name for name in self.keys if name not in cached and not self._has_fit(name)]

    def _has_fit(self, name: str) -> bool:
        return fitted_file(self.cache, self.keys[name]).is_file()

    def fit_job(self, names: Iterable[str], jobs: int, beside_training: bool = False) -> tuple:
        """The arguments of ``traditional.fit.fit_outputs`` for ``names``: a job a helper
        process can take (plain arrays and values: it needs no torch)."""
        self.cache.mkdir(parents=True, exist_ok=True)
        classifies = has_tag(self.schema.task, "classifies")
        keys = {name: self.keys[name] for name in names}
        folder = self.cache.absolute()  # the helper's working directory may not be ours
        return (self.arrays, keys, self.seed, classifies, self.schema.n_outputs, folder,
                jobs, beside_training)  # fmt: skip


def plan(
    task: Task, bundle: Any, chosen: bool | list[str], seed: int, main: str | None, cache: Path
) -> Plan:
    """What ``chosen`` asks of this split, keyed for the cache under ``cache``."""
    main = ranked_by(task, main)[0]
    names = fitting(task.name, bundle.schema.modality, chosen)
    arrays = (*_arrays(bundle.train, seed, MAX_TRAIN), *_arrays(bundle.test, seed)) if names else ()
    split = _fingerprint(*arrays, task.name, main, seed)
    classifies = has_tag(task.name, "classifies")
    keys = {}
    for name in names:
        setting = settings(made(name, seed, classifies))
        keys[name] = hashlib.sha256(f"{split}|{name}|{setting}".encode()).hexdigest()[:24]
    return Plan(bundle.schema, main, seed, cache, keys, arrays)  # type: ignore[arg-type]


def baseline_rows(plan: Plan, fitted: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Each planned baseline's row: from the cache; else scored from what a helper fit; else
    fit here. A row this run did not fit (here, or as one of ``fitted``, handed to a helper)
    says it was ``cached``."""
    rows = plan.cached()
    missing = [name for name in plan.keys if name not in rows]
    unfit = plan.unfitted(rows)
    if unfit:
        fit_outputs(*plan.fit_job(unfit, torch.get_num_threads()))
    for name in missing:
        rows[name] = _scored(plan, name)
    fresh = {*unfit, *fitted}
    return [rows[name] | ({} if name in fresh else {"cached": True}) for name in plan.keys]


def _scored(plan: Plan, name: str) -> dict[str, Any]:
    """The row of a baseline fit by ``traditional.fit``: its outputs scored, then cached."""
    path = fitted_file(plan.cache, plan.keys[name])
    with np.load(path) as fit:
        task, y_test = get_task(plan.schema), plan.arrays[3]
        row = {
            "model": name,
            plan.main: _score(task, str(fit["kind"]), fit["outputs"], y_test, plan.main),
            "train_seconds": round(float(fit["seconds"]), 2),
            "size_bytes": int(fit["size"]),
        } | ({"beside_training": True} if bool(fit["beside_training"]) else {})
    write_json(plan.cache / f"{plan.keys[name]}.json", row)
    path.unlink(missing_ok=True)  # the row keeps what it was for
    return row


def _arrays(data: Any, seed: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    x, y = first_rows(data)
    if limit is not None and len(x) > limit:
        pick = torch.from_numpy(np.random.default_rng(seed).permutation(len(x))[:limit])
        x, y = x[pick], y[pick]
    x = x.numpy()
    return (x if x.dtype == np.int64 else x.reshape(len(x), -1)), y.numpy()


def _score(task: Task, kind: str, outputs: np.ndarray, y: np.ndarray, main: str) -> float:
    """The task's own metric on a baseline's test outputs (``traditional.fit.outputs``)."""
    if kind == "scores":  # an outlier detector's: ranked against the anomalies
        from sklearn.metrics import average_precision_score, roc_auc_score

        rank = average_precision_score if main == "pr_auc" else roc_auc_score
        return float(rank(y, outputs))
    metric = task.metrics({main})
    metric.update(torch.from_numpy(outputs), torch.as_tensor(y))
    return float(metric.compute()[main])
