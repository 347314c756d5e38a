"""Searches as the dashboard shows them: each study's trials over time, the best so far, and
which settings mattered (Optuna's parameter importance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def studies(runs_dir: Path) -> list[dict[str, Any]]:
    database = runs_dir / "studies.sqlite"
    if not database.exists():
        return []
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{database.resolve()}"
    try:
        summaries = optuna.get_all_study_summaries(storage)
        return [_study(optuna.load_study(study_name=s.study_name, storage=storage), optuna)
                for s in summaries]  # fmt: skip
    except SQLAlchemyError:  # a search creating its database this very moment: next poll
        return []


def _study(study: Any, optuna: Any) -> dict[str, Any]:
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    trials, best, best_so_far = [], None, []
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            better = best is None or (t.value > best if maximize else t.value < best)
            best = t.value if better else best
        best_so_far.append(best)
        trials.append({
            "number": t.number, "state": t.state.name.lower(), "value": t.value,
            "settings": t.user_attrs.get("settings", {}), "run": t.user_attrs.get("run"),
            "started": t.datetime_start.isoformat() if t.datetime_start else None,
        })  # fmt: skip
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    importance: dict[str, float] = {}
    if len(done) >= 3:
        try:
            importance = dict(optuna.importance.get_param_importances(study))
        except (RuntimeError, ValueError):  # settings that never varied
            importance = {}
    return {
        "name": study.study_name,
        "direction": "maximize" if maximize else "minimize",
        "trials": trials,
        "best_so_far": best_so_far,
        "importance": importance,
    }
