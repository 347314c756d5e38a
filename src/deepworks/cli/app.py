"""The command-line app, its sub-apps and the helpers its commands share."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Build, train, evaluate and reuse deep-learning models.",
)
runs_app = typer.Typer(help="List runs, or show one.", invoke_without_command=True)
app.add_typer(runs_app, name="runs")
datasets_app = typer.Typer(
    help="List datasets, or make a synthesized one.", invoke_without_command=True
)
app.add_typer(datasets_app, name="datasets")

RunsDir = Annotated[Path, typer.Option("--runs-dir", help="Where run folders live.")]
Threads = Annotated[int | None, typer.Option("--threads", help="CPU threads for PyTorch.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _console() -> Console:
    # Piped or captured output keeps whole cells instead of an 80-column cut.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _metrics_table(metrics: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    splits = list(metrics)
    for split in splits:
        table.add_column(split, justify="right")
    names = [k for k, v in metrics[splits[0]].items() if isinstance(v, int | float)]
    for name in names:
        table.add_row(name, *(f"{metrics[s][name]:.4f}" for s in splits))
    return table


def _leaderboard_table(board: dict[str, Any]) -> Table:
    metric = board["metric"]
    table = Table(title="leaderboard (test split)")
    for column in ("model", metric, "train s", "size"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in board["rows"]:
        seconds, size = row["train_seconds"], row["size_bytes"]
        notes = ", ".join(n for n in ("cached", "beside_training") if row.get(n))
        seconds = "" if seconds is None else f"{seconds:.2f}"
        table.add_row(
            row["model"],
            f"{row[metric]:.4f}",
            seconds + (f" ({notes.replace('_', ' ')})" if seconds and notes else ""),
            _size(size),
        )
    return table


def _write_csv(frame: Any, output: Path, what: str) -> None:
    """Write a result table whole (a temp file, then renamed); the path is the last line of
    stdout. A place that cannot be written is the user's to fix."""
    from deepworks.core.errors import DataError
    from deepworks.train.checkpoint import write_text

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_text(output, frame.to_csv(index=False))
    except OSError as exc:
        raise DataError(f"cannot write {output} ({exc.strerror}); choose another -o path") from None
    _console().print(f"{what} written to", style="dim")
    print(output)


def _finish(run: Any) -> None:
    for finding in run.audit:
        if finding["severity"] == "warning":
            _console().print(f"data audit: {finding['message']}", style="yellow")
    _console().print(_metrics_table(run.metrics, f"run {run.folder.id}"))
    board = run.folder.read_json(run.folder.path / "leaderboard.json")
    if len(board["rows"]) > 1:
        _console().print(_leaderboard_table(board))
        _console().print(board["verdict"])
    cv_file = run.folder.path / "cv.json"
    if cv_file.is_file():
        cv = run.folder.read_json(cv_file)
        _console().print(
            f"{cv['folds']}-fold cross-validation on train + valid: {cv['metric']} "
            f"{cv['mean']:.4f} ± {cv['std']:.4f}"
        )
    report = run.path / "report.html"
    if report.is_file():
        _console().print(f"report: {report}", style="dim")
    info = run.info
    if info.get("stopped_early"):
        _console().print(
            f"stopped early after {info['epochs']} epochs (best: epoch {info['best_epoch']})"
        )
    print(run.path)


def _size(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
