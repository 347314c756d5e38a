"""`deepworks ui`: the dashboard over a runs directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from deepworks.cli.app import RunsDir, app


@app.command()
def ui(
    runs_dir: RunsDir = Path("runs"),
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 for all.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(help="Require this token (or set DEEPWORKS_TOKEN); open /login?key=TOKEN."),
    ] = None,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads for 'try it'.")] = 1,
) -> None:
    """The dashboard: runs side by side, a run's page, try a model, studies."""
    from deepworks.core.errors import require
    from deepworks.runtime import set_threads

    require("fastapi", "deploy", "deepworks ui")
    import uvicorn

    from deepworks.ui import create_app

    set_threads(threads)
    token = token or os.environ.get("DEEPWORKS_TOKEN")
    where = f"http://{host}:{port}/" + (f"login?key={token}" if token else "")
    print(f"deepworks ui on {where} (runs from {runs_dir}); Ctrl-C stops it", flush=True)
    uvicorn.run(create_app(runs_dir, token), host=host, port=port, log_level="warning")
