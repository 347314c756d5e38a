"""Progress on stderr (stdout stays clean for results): a live bar with ETA and metrics in a
terminal, one plain line per epoch in logs and CI."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _fmt(metrics: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in metrics.items())


class ProgressBar:
    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.enabled = total, enabled
        self.live = enabled and sys.stderr.isatty()  # a bar redrawn each step
        self._progress: Progress | None = None
        self._task = None
        self._start = time.perf_counter()
        self._first_step = 0  # a resumed run starts part-way: see start_at

    def __enter__(self) -> ProgressBar:
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, metrics="")
        return self

    def update(self, completed: int, description: str, metrics: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.update(
                self._task, completed=completed, description=description, metrics=_fmt(metrics)
            )

    def epoch_end(self, completed: int, description: str, metrics: dict[str, Any]) -> None:
        """In a terminal the bar shows it; elsewhere print one line with the ETA."""
        if self._progress is not None:
            self.update(completed, description, metrics)
            return
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self._start
        rate = elapsed / max(completed - self._first_step, 1)
        eta = rate * (self.total - completed)
        print(
            f"{description}  {_fmt(metrics)}  elapsed {elapsed:.0f}s  eta {eta:.0f}s",
            file=sys.stderr,
            flush=True,
        )

    def start_at(self, completed: int) -> None:
        self._first_step = completed

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


class Phases:
    """Times the pieces of work after training (evaluation, each analysis, the report): each
    one still running after a second is announced on stderr and its time said when it ends;
    ``seconds`` keeps every piece's time for run.json."""

    def __init__(self, enabled: bool = True, after: float = 1.0) -> None:
        self.enabled, self.after = enabled, after
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        announce = threading.Timer(self.after, self._say, (f"{name} …",))
        if self.enabled:
            announce.daemon = True
            announce.start()
        try:
            yield
        finally:
            announce.cancel()
            took = time.perf_counter() - start
            self.seconds[name] = round(self.seconds.get(name, 0.0) + took, 3)
            if took >= self.after:
                self._say(f"{name}: {took:.1f}s")

    def _say(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)
