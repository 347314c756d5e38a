"""`model: auto`: every registered family that fits the data, with the settings it declares
for this (``register_model(..., auto=[...])``), trained as an ordinary run on the same split
and settings; the one best on the validation split is the answer (the test split never
chooses), and its leaderboard shows every candidate beside the baselines.

It lives below the experiment (``run`` is handed in) so that `deepworks run` and
``deepworks.run`` both take `model: auto`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deepworks.config import ExperimentConfig
from deepworks.config.experiment import AutoParams
from deepworks.core.errors import ConfigError
from deepworks.core.params import parse_params
from deepworks.core.task import TASKS
from deepworks.models import MODELS
from deepworks.report import write_report
from deepworks.tasks import load_data
from deepworks.train.checkpoint import write_json

RunOne = Callable[[dict[str, Any], dict[str, Any]], Any]  # (config, run.json tags) → a run


def candidates(auto: AutoParams, modality: str, task: str) -> list[tuple[str, dict]]:
    """(family, its preset) for every registered model that takes this data and task."""
    found = [
        (e.name, preset)
        for e in MODELS
        if modality in e.meta["modalities"] and task in e.meta["tasks"]
        and (auto.candidates is None or e.name in auto.candidates)
        for preset in e.meta["auto"]
    ]  # fmt: skip
    if not found:
        raise ConfigError(
            f"model: auto has no candidate for {task} on {modality} data"
            + (f" among {auto.candidates}" if auto.candidates else "")
            + "; name a model (`deepworks models`)"
        )
    return found


def choose_model(cfg: ExperimentConfig, run_one: RunOne) -> Any:
    """Train each candidate within `model.budget` seconds; the best on validation, whose
    folder also holds auto.json (every candidate) and their rows on its leaderboard."""
    auto = parse_params(AutoParams, cfg.model.params, "model `auto`")
    schema = load_data(cfg.data, cfg.task, cfg.seed).schema
    found = candidates(auto, schema.modality, schema.task)
    task = TASKS.get(schema.task)
    metric = cfg.evaluate.main_metric or task.main_metric
    name = cfg.name or f"{cfg.data.dataset}-auto"
    base, started, tried = cfg.to_dict(), time.perf_counter(), []
    for i, (family, preset) in enumerate(found):
        if i and time.perf_counter() - started > auto.budget:
            break  # the budget is spent: the rest are named as not tried
        raw = base | {"model": {"name": family, **preset}, "name": f"{name}-{i}-{family}"}
        tried.append((family, preset, run_one(raw, {"auto": name})))
    pick = min if metric in task.lower_is_better else max
    best = pick(tried, key=lambda t: t[2].metrics["valid"][metric])[2]
    rows = [
        {"model": _named(family, preset), "run": result.folder.id,
         f"valid_{metric}": result.metrics["valid"][metric],
         metric: result.metrics["test"].get(metric),
         "train_seconds": round(sum(r["seconds"] for r in result.history()), 2),
         "chosen": result is best}
        for family, preset, result in tried
    ]  # fmt: skip
    skipped = [_named(f, p) for f, p in found[len(tried) :]]
    write_json(best.path / "auto.json", {"metric": metric, "candidates": rows,
                                         "not_tried": skipped})  # fmt: skip
    _on_leaderboard(best, rows, metric)
    return best


def _named(family: str, preset: dict[str, Any]) -> str:
    """``mlp hidden=[16] dropout=0.2``: a candidate as tables show it."""
    return " ".join([family, *(f"{k}={v}".replace(" ", "") for k, v in preset.items())])


def _on_leaderboard(best: Any, rows: list[dict[str, Any]], metric: str) -> None:
    """The other candidates join the chosen run's leaderboard (scored on the same test
    split), and its verdict says how the family was chosen."""
    path = best.path / "leaderboard.json"
    board = best.folder.read_json(path)
    for row in rows:
        if not row["chosen"]:
            board["rows"].append({"model": f"{row['model']} (auto candidate)",
                                  metric: row[metric], "train_seconds": row["train_seconds"],
                                  "size_bytes": None})  # fmt: skip
    sign = 1 if board["lower_is_better"] else -1
    board["rows"].sort(key=lambda r: (r.get(metric) is None, sign * (r.get(metric) or 0)))
    chosen = next(r for r in rows if r["chosen"])
    board["verdict"] += (
        f"; model: auto chose {chosen['model']} by validation {metric} "
        f"{chosen[f'valid_{metric}']:.4f} among {len(rows)} candidates"
    )
    write_json(path, board)
    write_report(best.path, status="completed")
