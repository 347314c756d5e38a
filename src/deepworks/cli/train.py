"""Training: run, resume, distill."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from deepworks.cli.app import (
    Quiet,
    RunsDir,
    Threads,
    _console,
    _finish,
    app,
)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config key: train.epochs=3")
    ] = None,
    quiet: Quiet = False,
    nproc: Annotated[
        int, typer.Option("--nproc", help="Train data-parallel in N processes (torchrun).")
    ] = 1,
) -> None:
    """Train a model from CONFIG, evaluate it on the test split; prints the run folder last."""
    _start_helpers(nproc)
    from deepworks.catalog import load_config
    from deepworks.experiment import run as run_experiment
    from deepworks.train import distributed

    if nproc > 1:  # a task that cannot be distributed fails here, before any process starts
        distributed.refuse_manual_optimization(load_config(config, set_ or []).task)
    if _relaunched(nproc):
        return
    result = run_experiment(
        config, runs_dir=runs_dir, threads=threads, overrides=set_ or [], progress=not quiet
    )
    if result is not None:  # rank 0 of a distributed run, or the only process
        _finish(result)


def _start_helpers(nproc: int) -> None:
    """The processes that will write the run's figures and fit its baselines start before
    torch is imported, on a core that import leaves idle (the process that writes the run
    folder only: rank 0)."""
    if nproc == 1 and os.environ.get("RANK", "0") == "0":
        from deepworks import plots, traditional
        from deepworks.core import helpers

        helpers.shared(plots.WARM)
        helpers.shared(traditional.WARM, count=1)


def _relaunched(nproc: int) -> bool:
    """With --nproc N > 1 (and not already under torchrun), run this command again as N
    processes and exit with their status."""
    from deepworks.train import distributed

    if nproc < 1:
        raise typer.BadParameter("--nproc takes 1 or more processes")
    if nproc == 1 or distributed.launched():
        return False
    argv, skip = [], False
    for arg in sys.argv[1:]:  # the same command, without --nproc
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            argv.append(arg)
    code = distributed.launch(nproc, argv)
    if code:
        raise typer.Exit(code)
    return True


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
    quiet: Quiet = False,
    nproc: Annotated[int, typer.Option("--nproc", help="Processes, as the run had.")] = 1,
) -> None:
    """Continue a killed run from its last checkpoint."""
    _start_helpers(nproc)
    from deepworks.experiment import resume as resume_run

    if _relaunched(nproc):
        return
    result = resume_run(run_id, runs_dir=runs_dir, threads=threads, progress=not quiet)
    if result is not None:
        _finish(result)


@app.command()
def tune(
    config: Annotated[Path, typer.Argument(help="Experiment YAML with a `tune:` section.")],
    trials: Annotated[int, typer.Option(help="Finished trials the study should hold.")] = 20,
    timeout: Annotated[
        float | None, typer.Option(help="Stop starting trials after this many seconds.")
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
    quiet: Quiet = False,
) -> None:
    """Search CONFIG's `tune:` space with Optuna (each trial a run); run again to continue."""
    from rich.markup import escape
    from rich.table import Table

    from deepworks.tuning import tune as tune_study

    result = tune_study(config, trials, timeout=timeout, runs_dir=runs_dir, threads=threads,
                        progress=not quiet)  # fmt: skip
    table = Table(title=f"study {result.study}")
    for column in ("trial", "state", "value", "settings"):
        table.add_column(column)
    for t in result.trials:
        value = "" if t["value"] is None else f"{t['value']:.4f}"
        settings = ", ".join(f"{k}={_short(v)}" for k, v in t["settings"].items())
        table.add_row(str(t["number"]), t["state"], value, escape(settings))
    _console().print(table)
    print(f"best: trial value {result.best_value:.4f}, run {result.best_run}")
    print(f"best config: {result.best_config}")


def _short(text: str) -> str:
    """A setting as the table shows it: floats to four significant digits."""
    import yaml

    value = yaml.safe_load(text)
    return f"{value:.4g}" if isinstance(value, float) else text


@app.command()
def distill(
    teacher: Annotated[str, typer.Argument(metavar="TEACHER", help="The trained run.")],
    model: Annotated[str, typer.Option("--model", help="The student: a registered model.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a key of the student's config: model.hidden=[32]"),
    ] = None,
    temperature: Annotated[float, typer.Option(help="Softens both models' outputs.")] = 4.0,
    alpha: Annotated[float, typer.Option(help="Weight of the teacher (rest: labels).")] = 0.7,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
    quiet: Quiet = False,
) -> None:
    """Distill a run into a smaller MODEL (a new run); prints its folder last.

    The student learns TEACHER's softened outputs and the labels on the same data; the teacher
    stands beside it on the leaderboard."""
    import yaml

    from deepworks.experiment import run as run_experiment
    from deepworks.predict import load

    source = load(teacher, runs_dir)
    config = yaml.safe_load(source.folder.config.read_text(encoding="utf-8"))
    config["model"] = {"name": model}
    config["name"] = f"{config.get('name') or source.folder.id}-distilled-{model}"
    config["distill"] = {
        "teacher": str(source.path.resolve()),
        "temperature": temperature,
        "alpha": alpha,
    }
    result = run_experiment(
        config, runs_dir=runs_dir, threads=threads, overrides=set_ or [], progress=not quiet
    )
    _finish(result)
