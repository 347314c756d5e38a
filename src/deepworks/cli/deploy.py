"""After training: the report, export and the deployment card, serving."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from deepworks.cli.app import (
    RunsDir,
    _console,
    _size,
    app,
)


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Rebuild a run's report.html (one self-contained file); prints its path."""
    from deepworks.report import write_report

    print(write_report(run_id, runs_dir))


@app.command()
def export(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    format_: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="onnx (default) and / or torchscript (repeat)."),
    ] = None,
    int8: Annotated[bool, typer.Option(help="Also an int8 ONNX model.")] = True,
    prune: Annotated[
        float | None, typer.Option(help="Also a model with this share of weights pruned.")
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    threads: Annotated[int, typer.Option("--threads", help="CPU threads, measured with.")] = 1,
) -> None:
    """Export a run to ONNX / TorchScript, compress it, write its deployment card.

    Parity-checked on test inputs; the card gives size, latency, throughput and test metric of
    each form. Prints the card's path last."""
    from deepworks.core.errors import require
    from deepworks.deploy import build_card
    from deepworks.predict import load
    from deepworks.report import write_report
    from deepworks.runtime import set_threads

    require("onnxruntime", "deploy", "deepworks export")
    if prune is not None and not 0 < prune < 1:
        raise typer.BadParameter("--prune takes a share between 0 and 1, e.g. 0.5")
    set_threads(threads)
    run = load(run_id, runs_dir)
    card = build_card(run, format_ or ["onnx"], int8, prune, threads)
    _console().print(_card_table(card))
    if card["note"]:
        _console().print(f"note: {card['note']}", style="yellow")
    write_report(run.path)
    print(run.path / "deployment.json")


def _card_table(card: dict[str, Any]) -> Table:
    metric = card["metric"]
    table = Table(title=f"deployment card ({card['threads']} thread(s))")
    for column in ("form", "size", "p50 ms", "p99 ms", "rows/s @64", metric, "change", "parity"):
        table.add_column(column, justify="left" if column == "form" else "right")
    table.add_column("verdict")
    for row in card["rows"]:
        table.add_row(
            row["format"],
            _size(row["size_bytes"]),
            f"{row['p50_ms']:.3f}",
            f"{row['p99_ms']:.3f}",
            f"{row['throughput']:.0f}",
            "" if row["metric"] is None else f"{row['metric']:.4f}",
            "" if row["change"] is None else f"{row['change']:+.4f}",
            "" if row["parity"] is None else f"{row['parity']:.1e}",
            row["verdict"],
        )
    return table


@app.command()
def serve(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 for all.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Require this bearer token (or set DEEPWORKS_TOKEN)."),
    ] = None,
    max_bytes: Annotated[int, typer.Option(help="Largest request body accepted.")] = 1_000_000,
    max_batch: Annotated[
        int, typer.Option(help="Inputs of concurrent requests predicted in one call (1: off).")
    ] = 64,
    runs_dir: RunsDir = Path("runs"),
    threads: Annotated[int, typer.Option("--threads", help="CPU threads for inference.")] = 1,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send its request headers.")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send its request body.")
    ] = 30.0,
) -> None:
    """Serve a run over HTTP: POST /predict, /predict/batch; GET /health, /metadata, /docs."""
    from deepworks.core.errors import ConfigError, require

    require("fastapi", "deploy", "deepworks serve")
    from deepworks.deploy.server import serve as serve_run

    for option, value in (("--header-timeout", header_timeout), ("--body-timeout", body_timeout)):
        if not value > 0:
            raise ConfigError(f"{option} {value:g}: give a positive number of seconds")
    serve_run(
        run_id,
        runs_dir,
        host,
        port,
        token,
        max_bytes,
        max_batch,
        threads,
        header_timeout,
        body_timeout,
    )
