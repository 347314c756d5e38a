"""Shared by the benchmarks: machine description and writing a table into docs/benchmarks.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

from deepworks.runtime import machine

__all__ = [
    "DOC",
    "fine_foods_slice",
    "fit_deepworks",
    "machine",
    "markdown_table",
    "user_env",
    "write_section",
]

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def user_env() -> dict[str, str]:
    """This environment as a user's shell has it: Python caching byte code (some sandboxes
    set PYTHONDONTWRITEBYTECODE, which makes every process compile deepworks anew while
    torch's pip-compiled files stay cached: an unfair start for whole-process timings)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def fine_foods_slice(reviews: int) -> dict:
    """The data section of the text benchmarks: a slice of fine-foods, 64 tokens per review."""
    return {
        "dataset": "fine-foods",
        "limit": reviews,
        "tokenizer": {"max_length": 64, "min_freq": 2},
        "batch_size": 32,
    }


def fit_deepworks(model, task, bundle, cfg, seed: int, progress: bool = False):
    """deepworks' Trainer as `deepworks run` uses it (checkpoints every epoch, validation
    metrics); returns its final state and the seconds `fit` took."""
    import tempfile
    import time

    from deepworks.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            cfg.train,
            seed,
            batch_size=cfg.data.batch_size,
            checkpoint_dir=Path(tmp),
            progress=progress,
        )
        start = time.perf_counter()
        state = trainer.fit(model, task, bundle.train, bundle.valid)
        return state, time.perf_counter() - start


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def kept_rows(name: str, rows: list[list[str]]) -> list[list[str]]:
    """``rows`` and, for a run of some of a section's cases (``--only``), the rows of the other
    cases as the section's table last had them (matched on the first column)."""
    if not DOC.exists():
        return rows
    match = re.search(
        re.escape(f"<!-- {name}:start -->") + "(.*?)" + re.escape(f"<!-- {name}:end -->"),
        DOC.read_text(),
        flags=re.S,
    )
    lines = [
        line for line in (match.group(1) if match else "").splitlines() if line.startswith("|")
    ]
    old = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    width, fresh = len(rows[0]) if rows else 0, {row[0] for row in rows}
    return [r for r in old if r[0] not in fresh and len(r) == width] + rows


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section between markers for ``name`` in docs/benchmarks.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = (
        DOC.read_text()
        if DOC.exists()
        else "# Benchmarks\n\nWritten by the scripts in `benchmarks/`.\n"
    )
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
