"""What there is: runs, datasets, models, the config schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deepworks.cli.app import (
    RunsDir,
    _console,
    _metrics_table,
    app,
    datasets_app,
    runs_app,
)


@runs_app.callback()
def runs_list(ctx: typer.Context, runs_dir: RunsDir = Path("runs")) -> None:
    """List runs: id, task, data, model, main metric, status."""
    if ctx.invoked_subcommand:
        return
    from deepworks.runs.index import RunIndex

    table = Table()
    table.add_column("id", no_wrap=True)
    for col in ("task", "data", "model", "metric", "value", "status"):
        table.add_column(col)
    for r in RunIndex(runs_dir).all():
        status = _status(Path(r["path"]))
        value = "" if r["value"] is None else f"{r['value']:.4f}"
        table.add_row(r["id"], r["task"], r["dataset"], r["model"], r["metric"], value, status)
    _console().print(table)


def _status(folder: Path) -> str:
    """A run's live status; a damaged or missing folder says so instead of failing the list."""
    from deepworks.core.errors import RunError
    from deepworks.runs.folder import RunFolder

    if not folder.exists():
        return "missing"
    try:
        return RunFolder(folder).info()["status"]
    except RunError:
        return "damaged (run.json)"


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(metavar="ID", help="Run folder or id.")],
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Show one run: its info, its final metrics and where its files are."""
    from deepworks.runs.folder import RunFolder

    folder = RunFolder.open(run_id, runs_dir)
    info = folder.info()
    for key, value in info.items():
        _console().print(f"[bold]{key}[/bold]: {value}")
    if folder.metrics_json.exists():
        _console().print(_metrics_table(folder.read_json(folder.metrics_json), "metrics"))
    for path in sorted(folder.path.iterdir()):
        _console().print(f"  {path.name}")


@datasets_app.callback()
def datasets(ctx: typer.Context) -> None:
    """List datasets: the built-ins and the sources for your own files."""
    if ctx.invoked_subcommand:
        return
    from deepworks.catalog import registry

    DATASETS = registry("dataset")

    table = Table("name", "task", "modality", "data", "what")
    for e in DATASETS:
        where = "built in" if e.meta["builtin"] else "your files"
        table.add_row(e.name, e.meta["task"] or "auto", e.meta["modality"], where, e.help)
    _console().print(table)


@datasets_app.command("make")
def datasets_make(
    name: Annotated[str, typer.Argument(help="The dataset to make, e.g. spoken-digits.")],
) -> None:
    """Make a dataset that is synthesized rather than shipped (into $DEEPWORKS_DATA)."""
    from deepworks.catalog import registry
    from deepworks.core.errors import DataError, did_you_mean

    made = {e.name: e.meta["make"] for e in registry("dataset") if e.meta.get("make")}
    if name not in made:
        raise DataError(
            f"no dataset `{name}` to make.{did_you_mean(name, made)} Made: {', '.join(made)}"
        )
    print(made[name]())


@app.command()
def models() -> None:
    """List the registered models and their parameters."""
    import dataclasses

    from deepworks.models import MODELS

    table = Table("name", "data", "tasks", "parameters (defaults)", "what")
    for e in MODELS:
        defaults = dataclasses.asdict(e.meta["params"]())
        params = ", ".join(f"{k}={v}" for k, v in defaults.items())
        tasks = ", ".join(e.meta["tasks"])
        table.add_row(e.name, "/".join(e.meta["modalities"]), tasks, params, e.help)
    _console().print(table)


@app.command()
def schema() -> None:
    """Print the experiment config's JSON Schema (for editor completion)."""
    from deepworks.config import json_schema

    print(json.dumps(json_schema(), indent=2))
