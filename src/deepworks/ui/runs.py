"""What the dashboard shows of the runs directory: read from the index and the folders on
every request, so a running run's progress and metrics arrive as they are written."""

from __future__ import annotations

import difflib
from datetime import datetime
from pathlib import Path
from typing import Any

from deepworks.core.errors import DeepworksError
from deepworks.metrics.evaluator import scalars
from deepworks.runs.folder import RunFolder
from deepworks.runs.index import RunIndex

# The run folder's JSON files a run page shows, each under its name without `.json`.
_JSON = ("leaderboard.json", "audit.json", "deployment.json", "cv.json", "slices.json",
         "auto.json")  # fmt: skip


def _duration(info: dict[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(info["created"])
        end = datetime.fromisoformat(info["finished"]) if info.get("finished") else None
    except (KeyError, TypeError, ValueError):
        return None
    if end is None and info.get("status") != "running":
        return None
    return round(((end or datetime.now()) - start).total_seconds(), 1)


def run_rows(runs_dir: Path) -> list[dict[str, Any]]:
    """One row per run: task, data, model, main metric, status (running, completed,
    failed, killed), duration, and its study or auto search."""
    rows = []
    for record in RunIndex(runs_dir).all():
        folder = RunFolder(Path(record["path"] or runs_dir / record["id"]))
        try:
            info = folder.info()
        except DeepworksError:
            info = {**record, "status": "damaged"}
        progress = folder.history()
        rows.append({
            "id": record["id"], "name": info.get("name"), "task": info.get("task"),
            "dataset": info.get("dataset"), "model": info.get("model"),
            "metric": info.get("metric"), "value": info.get("value"),
            "status": info.get("status"), "created": info.get("created"),
            "duration": _duration(info), "epochs": len(progress),
            "study": info.get("study") or info.get("auto"),
        })  # fmt: skip
    return rows[::-1]  # newest first


def folder_of(runs_dir: Path, run_id: str) -> RunFolder:
    return RunFolder.open(run_id, runs_dir)


def run_page(folder: RunFolder) -> dict[str, Any]:
    """Everything the report has, as data: info, config, metrics, history, leaderboard,
    audit, deployment card, and the figures' file names."""
    path = folder.path
    metrics = folder.read_json(folder.metrics_json) if folder.metrics_json.exists() else {}
    extra = {name[:-5]: folder.read_json(path / name) for name in _JSON if (path / name).exists()}
    figures = sorted(p.name for p in [*path.glob("*.png"), *path.glob("*.gif")])
    explained = sorted(p.name for p in (path / "explanations").glob("*.png"))[:8]
    return {
        "id": folder.id,
        "info": folder.info(),
        "config": folder.config.read_text(encoding="utf-8") if folder.config.exists() else "",
        "metrics": {split: scalars(values) for split, values in metrics.items()},
        "history": folder.history(),
        "figures": figures,
        "explanations": explained,
        "report": (path / "report.html").exists(),
        **extra,
    }


def compare(runs_dir: Path, ids: list[str]) -> dict[str, Any]:
    """Runs side by side: their curves, their test metrics with the best per row, the
    difference between their configs, their leaderboards."""
    folders = [folder_of(runs_dir, i) for i in ids]
    pages = [run_page(f) for f in folders]
    names = sorted({k for p in pages for k in p["metrics"].get("test", {})})
    lower_is_better, table = _lower_is_better(pages[0]), []
    for name in names:
        values = [p["metrics"].get("test", {}).get(name) for p in pages]
        known = [v for v in values if isinstance(v, int | float)]
        best = (min if name in lower_is_better else max)(known) if known else None
        table.append({"metric": name, "values": values, "best": best})
    first, name = pages[0]["config"].splitlines(), pages[0]["id"]
    diffs = [
        "\n".join(difflib.unified_diff(first, p["config"].splitlines(), name, p["id"], lineterm=""))
        for p in pages[1:]
    ]
    return {
        "runs": [{"id": p["id"], "info": p["info"], "history": p["history"],
                  "leaderboard": p.get("leaderboard")} for p in pages],
        "metrics": table, "config_diff": diffs,
    }  # fmt: skip


def _lower_is_better(page: dict[str, Any]) -> set[str]:
    """The metrics the first run's task minimizes (the others are maximized)."""
    from deepworks.tasks import TASKS  # registers the tasks

    try:
        task = TASKS.get(page["info"].get("task") or "")
    except DeepworksError:
        return {"loss"}
    return set(task.lower_is_better)
