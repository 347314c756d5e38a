"""The `deepworks` command line: a thin skin over the Python API, with no logic of its own.

A user's mistake (a DeepworksError) prints one line, `error: ...`, and exits 2; no traceback.
Commands live by job in this package's modules; importing them registers them on ``app``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from deepworks.cli.app import app
from deepworks.core.errors import DeepworksError
from deepworks.core.garbage import collect_oldest_rarely

# Importing a command module registers its commands, in the order `--help` lists them.
for _module in ("train", "use", "deploy", "dashboard", "listing"):
    importlib.import_module(f"deepworks.cli.{_module}")

__all__ = ["app", "command", "main"]


def main() -> None:
    try:  # typer >= 0.20 carries its own copy of click
        from typer._click import exceptions as usage
    except ImportError:  # pragma: no cover
        from click import exceptions as usage

    err = Console(stderr=True, highlight=False, soft_wrap=True)

    def fail(message: str, code: int) -> None:
        err.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True)
        sys.exit(code)

    try:
        code = app(standalone_mode=False)  # usage errors come back here, said as ours are
    except DeepworksError as exc:
        fail(str(exc), exc.exit_code)
    except usage.NoArgsIsHelpError:  # `deepworks` alone: its help, printed already
        code = 0
    except usage.UsageError as exc:  # an unknown option, a value of the wrong type
        command = exc.ctx.command_path if exc.ctx else "deepworks"
        fail(f"{exc.format_message()} (see `{command} --help`)", 2)
    except usage.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    if code == 130:
        err.print("interrupted; a run can continue with `deepworks resume RUN`")
    if isinstance(code, int) and code:
        sys.exit(code)


def command() -> NoReturn:
    """The `deepworks` executable: ``main``, then an exit without the interpreter's teardown."""
    collect_oldest_rarely()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int):  # sys.exit("message"), as Python itself treats it
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    _exit_quickly(code)


def _exit_quickly(code: int) -> NoReturn:
    """Freeing every object of torch, scikit-learn, pandas and matplotlib one by one, as the
    interpreter does on its way out, takes 0.5–1.7 s that nobody waits for (`python -c
    "import torch, ..."` with and without `os._exit(0)` at its end). What an orderly exit owes
    is done first — other threads finished, exit handlers run (logging, torch's, the helpers'),
    output flushed — and then the process simply ends."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # the handlers Python would run, in their order
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    command()
