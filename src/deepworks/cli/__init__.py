"""The `deepworks` command line: a thin skin over the Python API, with no logic of its own.

A user's mistake (a DeepworksError) prints one line, `error: ...`, and exits 2; no traceback.
Commands live by job in this package's modules; importing them registers them on ``app``.
"""

from __future__ import annotations

import importlib
import sys

from rich.console import Console
from rich.markup import escape

from deepworks.cli.app import app
from deepworks.core.errors import DeepworksError

# Importing a command module registers its commands, in the order `--help` lists them.
for _module in ("train", "use", "deploy", "listing"):
    importlib.import_module(f"deepworks.cli.{_module}")

__all__ = ["app", "main"]


def main() -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app()  # usage errors are typer's: a message and exit code 2
    except DeepworksError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", markup=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; a run can continue with `deepworks resume RUN`")
        sys.exit(130)


if __name__ == "__main__":
    main()
