"""The `deepworks` command line: a thin skin over the Python API, with no logic of its own.

A user's mistake (a DeepworksError) prints one line, `error: ...`, and exits 2; no traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from deepworks.core.errors import DeepworksError

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


def _console() -> Console:
    # Piped or captured output keeps whole cells instead of an 80-column cut.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


RunsDir = Annotated[Path, typer.Option("--runs-dir", help="Where run folders live.")]
Threads = Annotated[int | None, typer.Option("--threads", help="CPU threads for PyTorch.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


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
        table.add_row(
            row["model"],
            f"{row[metric]:.4f}",
            "" if seconds is None else f"{seconds:.2f}",
            _size(size),
        )
    return table


def _write_csv(frame: Any, output: Path, what: str) -> None:
    """Write a result table; the path is the last line of stdout."""
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
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
    from deepworks.experiment import resume as resume_run

    if _relaunched(nproc):
        return
    result = resume_run(run_id, runs_dir=runs_dir, threads=threads, progress=not quiet)
    if result is not None:
        _finish(result)


@app.command()
def evaluate(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    data: Annotated[
        Path | None, typer.Option(help="A labelled CSV / image folder; default: the test split.")
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Evaluate a finished run on its test split or on new labelled data."""
    from deepworks.predict import load
    from deepworks.runtime import set_threads

    set_threads(threads)
    metrics = load(run_id, runs_dir).evaluate(data)
    _console().print(_metrics_table({str(data or "test"): metrics}, f"run {run_id}"))
    print(json.dumps(metrics))


@app.command()
def predict(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    inputs: Annotated[Path, typer.Argument(metavar="INPUT", help="A CSV, an image or a folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")] = Path(
        "predictions.csv"
    ),
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Predict INPUT with a finished run; writes a CSV with class probabilities."""
    from deepworks.predict import load
    from deepworks.runtime import set_threads

    set_threads(threads)
    frame = load(run_id, runs_dir).predict(inputs)
    _write_csv(frame, output, f"{len(frame)} predictions")


@app.command()
def embed(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    inputs: Annotated[Path, typer.Argument(metavar="DATA", help="A CSV, an image or a folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")] = Path(
        "codes.csv"
    ),
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Write each input's learned code: an autoencoder's, or a pretrained model's features."""
    from deepworks.predict import load

    frame = load(run_id, runs_dir).embed(inputs)
    _write_csv(frame, output, f"{len(frame)} codes of width {frame.shape[1] - 1}")


@app.command()
def explain(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    inputs: Annotated[
        Path, typer.Argument(metavar="INPUT", help="A CSV, an image, a WAV or a folder.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder; default RUN/explanations.")
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option("--method", "-m", help="saliency, integrated-gradients, grad-cam (repeat)."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Explain this class for every input; default: its own.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N inputs.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Inputs per batch.")] = 16,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Explain a run's predictions on INPUT; prints the folder last.

    Saliency / integrated gradients / Grad-CAM overlays, highlighted tokens and attention maps,
    feature attributions."""
    from deepworks.predict import load
    from deepworks.runtime import set_threads

    set_threads(threads)
    run = load(run_id, runs_dir)
    folder = output or run.path / "explanations"
    import pandas as pd

    files = run.explain_to(inputs, folder, method, target, batch_size, limit)
    _console().print(f"{len(files)} files written", style="dim")
    table = pd.read_csv(folder / "explanations.csv")
    if "ig_relative_delta" in table:
        _console().print(
            f"{len(table)} inputs; integrated gradients' completeness gap: median "
            f"{table['ig_relative_delta'].median():.2e} of |F(x) − F(baseline)|"
        )
    print(folder)


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


def _size(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


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
) -> None:
    """Serve a run over HTTP: POST /predict, /predict/batch; GET /health, /metadata, /docs."""
    from deepworks.core.errors import require

    require("fastapi", "deploy", "deepworks serve")
    from deepworks.deploy.server import serve as serve_run

    serve_run(run_id, runs_dir, host, port, token, max_bytes, max_batch, threads)


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


@app.command()
def generate(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    n: Annotated[int, typer.Option("--n", help="GAN: how many images.")] = 64,
    label: Annotated[str | None, typer.Option(help="Conditional GAN: the class to draw.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="GAN: the PNG grid.")] = Path(
        "generated.png"
    ),
    judge: Annotated[
        str | None, typer.Option(help="GAN: a classification run that checks the samples.")
    ] = None,
    prompt: Annotated[str, typer.Option(help="Language model: text to continue.")] = "",
    length: Annotated[int, typer.Option(help="Language model: tokens to generate.")] = 200,
    temperature: Annotated[float, typer.Option(help="Below 1: safer; above 1: wilder.")] = 1.0,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Sample from the k best.")] = None,
    samples: Annotated[int, typer.Option(help="Language model: how many texts.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Seed, for repeatable samples.")] = None,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Generate images with a GAN run, or text with a language-model run."""
    from deepworks.predict import load

    run = load(run_id, runs_dir)
    if run.task.generates == "images":
        _generate_images(run, n, label, output, judge, seed, runs_dir)
        return
    for i in range(samples):
        text = run.generate(prompt, length, temperature, top_k, None if seed is None else seed + i)
        print(text if samples == 1 else f"--- sample {i + 1}\n{text}")


def _generate_images(run, n, label, output, judge, seed, runs_dir) -> None:
    import torch
    from torchvision.utils import save_image

    images, asked = run.generate_images(n, label, seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_image(torch.from_numpy(images), output, nrow=min(n, 8), padding=1)
    print(f"wrote {n} images to {output}")
    if judge:
        from deepworks.predict import load

        seen = load(judge, runs_dir).predict(images)["prediction"].astype(str)
        if any(asked):
            hits = sum(s == a for s, a in zip(seen, asked, strict=True))
            print(f"run {judge} recognizes {hits}/{n} ({hits / n:.1%}) as the requested class")
        else:
            counts = seen.value_counts().sort_index()
            print(f"run {judge} sees: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@app.command()
def recommend(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    user: Annotated[str, typer.Option(help="The user's id, as in the ratings data.")],
    k: Annotated[int, typer.Option("--k", help="How many items.")] = 10,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """The top-k items for a user from a recommendation run (never one they already rated)."""
    from deepworks.predict import load

    frame = load(run_id, runs_dir).recommend(user, k)
    table = Table(title=f"top {len(frame)} for user {user}")
    for column in frame.columns:
        table.add_column(column, no_wrap=column != "title")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    _console().print(table)


@runs_app.callback()
def runs_list(ctx: typer.Context, runs_dir: RunsDir = Path("runs")) -> None:
    """List runs: id, task, data, model, main metric, status."""
    if ctx.invoked_subcommand:
        return
    from deepworks.runs.folder import RunFolder
    from deepworks.runs.index import RunIndex

    table = Table()
    table.add_column("id", no_wrap=True)
    for col in ("task", "data", "model", "metric", "value", "status"):
        table.add_column(col)
    for r in RunIndex(runs_dir).all():
        status = (
            RunFolder(Path(r["path"])).info()["status"] if Path(r["path"]).exists() else "missing"
        )
        value = "" if r["value"] is None else f"{r['value']:.4f}"
        table.add_row(r["id"], r["task"], r["dataset"], r["model"], r["metric"], value, status)
    _console().print(table)


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
    from deepworks.data import DATASETS

    table = Table("name", "task", "modality", "data", "what")
    for e in DATASETS:
        where = "built in" if e.meta["builtin"] else "your files"
        table.add_row(e.name, e.meta["task"] or "auto", e.meta["modality"], where, e.help)
    _console().print(table)


@datasets_app.command("make")
def datasets_make(
    name: Annotated[str, typer.Argument(help="The dataset to make: spoken-digits.")],
) -> None:
    """Make a dataset that is synthesized rather than shipped (into $DEEPWORKS_DATA)."""
    from deepworks.data.audio import SpokenDigits, data_home

    makers = {"spoken-digits": SpokenDigits}
    if name not in makers:
        from deepworks.core.errors import DataError, did_you_mean

        raise DataError(
            f"no dataset `{name}` to make.{did_you_mean(name, makers)} Made: {', '.join(makers)}"
        )
    root = data_home() / name
    count = makers[name](root).make()
    print(f"{count} clips in {root}")


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


def main() -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app()  # usage errors are typer's: a message and exit code 2
    except DeepworksError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", markup=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; a run can continue with `deepworks resume RUN`")
        sys.exit(130)


if __name__ == "__main__":
    main()
