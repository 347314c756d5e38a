"""Using a finished run: evaluate, predict, embed, explain, generate, recommend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deepworks.cli.app import (
    RunsDir,
    Threads,
    _console,
    _metrics_table,
    _write_csv,
    app,
)


def _load(run_id: str, runs_dir: Path, threads: int | None):
    """The run, with PyTorch's thread count set first (a bad count is a user's error)."""
    from deepworks.predict import load
    from deepworks.runtime import set_threads

    set_threads(threads)
    return load(run_id, runs_dir)


@app.command()
def evaluate(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    data: Annotated[
        Path | None, typer.Option(help="A labelled CSV / image folder; default: the test split.")
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(help="Agents: play this many evaluation episodes (or games) instead."),
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Evaluate a finished run on its test split or on new labelled data."""
    run = _load(run_id, runs_dir, threads)
    if episodes is not None:
        metrics, split = run.evaluate_episodes(episodes), f"{episodes} episodes"
    else:
        metrics, split = run.evaluate(data), str(data or "test")
    _console().print(_metrics_table({split: metrics}, f"run {run_id}"))
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
    """Predict INPUT with a finished run; writes a CSV with class probabilities (and, for
    detection and segmentation, a folder beside it named like it: COCO results, mask PNGs)."""
    frame = _load(run_id, runs_dir, threads).predict(inputs, files=output.with_suffix(""))
    _write_csv(frame, output, f"{len(frame)} predictions")


@app.command()
def play(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A self-play run's folder or id.")],
    second: Annotated[bool, typer.Option(help="Let the agent move first.")] = False,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Play a board game against a self-play run in the terminal."""
    run = _load(run_id, runs_dir, threads)
    try:
        run.play(first=not second)  # the board says who won
    except (EOFError, KeyboardInterrupt):
        print("\ngame abandoned")
        raise typer.Exit(1) from None


@app.command()
def embed(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    inputs: Annotated[Path, typer.Argument(metavar="DATA", help="A CSV, an image or a folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")] = Path(
        "codes.csv"
    ),
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Write each input's learned code: an autoencoder's, or a pretrained model's features."""
    frame = _load(run_id, runs_dir, threads).embed(inputs)
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
    run = _load(run_id, runs_dir, threads)
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
    threads: Threads = None,
) -> None:
    """Generate images with a GAN run, or text with a language-model run."""
    run = _load(run_id, runs_dir, threads)
    if run.task.generates == "images":
        _generate_images(run, n, label, output, judge, seed, runs_dir)
        return
    for i in range(samples):
        text = run.generate(prompt, length, temperature, top_k, None if seed is None else seed + i)
        print(text if samples == 1 else f"--- sample {i + 1}\n{text}")


@app.command()
def translate(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    inputs: Annotated[
        Path | None,
        typer.Argument(
            metavar="[INPUT]", help="A CSV / TSV / JSONL, or a .txt: a sentence a line."
        ),
    ] = None,
    text: Annotated[str | None, typer.Option("--text", "-t", help="One text to translate.")] = None,
    beam: Annotated[int | None, typer.Option(help="Beam size; 1: greedy. Default 5.")] = None,
    length_penalty: Annotated[
        float | None, typer.Option("--length-penalty", help="GNMT's α; default 0.6.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV of input and translation.")
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Translate a text (--text) or a file with a translation run."""
    from deepworks.core.errors import DataError

    if (text is None) == (inputs is None):
        raise DataError("give a text (--text) or an INPUT file, one of the two")
    run = _load(run_id, runs_dir, threads)
    if text is not None:
        print(run.translate(text, beam, length_penalty))
        return
    _print_or_write(run.translate(inputs, beam, length_penalty), output, "translations")


@app.command()
def transcribe(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run folder or id.")],
    clips: Annotated[Path, typer.Argument(metavar="CLIPS", help="A WAV clip or a folder of them.")],
    beam: Annotated[
        int | None,
        typer.Option(help="Beam width over the training words (default 16); 0: greedy."),
    ] = None,
    timestamps: Annotated[
        bool, typer.Option(help="Each word's start and end, in seconds.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV of path and transcript.")
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    threads: Threads = None,
) -> None:
    """Write what is said in WAV clips with a speech-recognition run."""
    run = _load(run_id, runs_dir, threads)
    frame = run.transcribe([clips] if clips.is_file() else clips, beam, timestamps)
    _print_or_write(frame, output, "transcripts")


def _print_or_write(frame, output: Path | None, what: str) -> None:
    """A result table to stdout as CSV, or written whole to ``output``."""
    if output is None:
        print(frame.to_csv(index=False), end="")
    else:
        _write_csv(frame, output, f"{len(frame)} {what}")


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
    threads: Threads = None,
) -> None:
    """The top-k items for a user from a recommendation run (never one they already rated)."""
    frame = _load(run_id, runs_dir, threads).recommend(user, k)
    table = Table(title=f"top {len(frame)} for user {user}")
    for column in frame.columns:
        table.add_column(column, no_wrap=column != "title")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    _console().print(table)
