"""``report.html``: everything a run knows, in one file that opens anywhere.

Built only from the run folder (config, audit, metrics, leaderboard, figures, explanations),
so ``deepworks report RUN`` rebuilds it at any time; the images are embedded as data URIs and
nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from deepworks.metrics.evaluator import scalars
from deepworks.runs.folder import RunFolder
from deepworks.train.checkpoint import write_text

# Figures with a section of their own; any other PNG in the run folder goes under "more".
PLACED = {
    "learning_curves.png",
    "confusion_matrix.png",
    "roc_pr.png",
    "calibration.png",
    "slices.png",
}
# Sample explanations shown (the explanations/ folder holds them all).
MAX_EXPLANATIONS = 8


def _image(path: Path) -> str | None:
    if not path.is_file():
        return None
    kind = path.suffix.lstrip(".").lower()  # png, or gif (an agent's episode)
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def context(folder: RunFolder, status: str | None = None) -> dict[str, Any]:
    """What the template shows, read from the run folder."""
    path = folder.path
    metrics = _json(folder.metrics_json) or {}
    explained = path / "explanations"
    pictures = sorted(explained.glob("*.png")) if explained.is_dir() else []
    tokens = explained / "tokens.html"
    return {
        "info": folder.info() | ({"status": status} if status else {}),
        "config": folder.config.read_text(encoding="utf-8") if folder.config.is_file() else "",
        "audit": _json(path / "audit.json"),
        "metrics": {split: scalars(values) for split, values in metrics.items()},
        # a task's test examples (a translation's sentences, a transcript's clips), as written
        "examples": metrics.get("test", {}).get("examples"),
        "leaderboard": _json(path / "leaderboard.json"),
        "cv": _json(path / "cv.json"),
        "slices": _json(path / "slices.json"),
        "deployment": _json(path / "deployment.json"),
        "figures": {p.name: _image(p) for p in sorted([*path.glob("*.png"), *path.glob("*.gif")])},
        "placed": PLACED,
        "explanations": [(p.name, _image(p)) for p in pictures[:MAX_EXPLANATIONS]],
        "explanation_count": len(pictures),
        "tokens_html": tokens.read_text(encoding="utf-8") if tokens.is_file() else None,
    }


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def render(folder: RunFolder, status: str | None = None) -> str:
    env = Environment(
        loader=PackageLoader("deepworks.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["size"] = _size
    return env.get_template("report.html.j2").render(**context(folder, status))


def write_report(
    run_ref: str | Path, runs_dir: str | Path = "runs", status: str | None = None
) -> Path:
    """(Re)build ``report.html`` in a run folder, whole or not at all (a temp file renamed);
    returns its path. ``status`` is the one the run is about to take, if not yet recorded."""
    folder = RunFolder.open(run_ref, runs_dir)
    path = folder.path / "report.html"
    write_text(path, render(folder, status))
    return path
