"""The deployment card: each deployable form of a run, measured on this CPU and checked.

For eager PyTorch, every export (ONNX, TorchScript), its int8 version and a pruned model:
file size, batch-1 latency p50 / p99, batch-64 throughput, the test metric and its change
from eager, and pass / fail against the config's ``deploy`` tolerances. Written as
``deployment.json`` and shown in the run report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from deepworks.data.datasets import first_rows
from deepworks.deploy.compress import pruned, quantize_int8, sparse_bytes
from deepworks.deploy.export import (
    FORMATS,
    PARITY_ROWS,
    ExportedModel,
    export_network,
    needs_beyond_forward,
    refuse,
)
from deepworks.metrics.evaluator import evaluate, scalars
from deepworks.runtime import machine
from deepworks.train.checkpoint import save_weights, write_json
from deepworks.train.loader import make_loader

LATENCY_RUNS, WARMUP, THROUGHPUT_RUNS, BATCH = 200, 20, 20, 64


def latency_ms(forward: Callable[[torch.Tensor], Any], x: torch.Tensor) -> tuple[float, float]:
    """Batch-1 latency: p50 and p99 over ``LATENCY_RUNS`` calls after a warm-up."""
    for _ in range(WARMUP):
        forward(x)
    times = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        forward(x)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def throughput(forward: Callable[[torch.Tensor], Any], x: torch.Tensor) -> float:
    """Rows per second at batch ``len(x)``."""
    forward(x)
    start = time.perf_counter()
    for _ in range(THROUGHPUT_RUNS):
        forward(x)
    return len(x) * THROUGHPUT_RUNS / (time.perf_counter() - start)


def _batch(x: torch.Tensor, n: int) -> torch.Tensor:
    return x.repeat((n + len(x) - 1) // len(x), *[1] * (x.dim() - 1))[:n]


def build_card(
    run: Any, formats: list[str], int8: bool, prune: float | None, threads: int
) -> dict[str, Any]:
    """Export, compress, measure and check; writes the files and deployment.json, holding
    the run folder's lock (one writer at a time)."""
    with run.folder.lock():
        return _build_card(run, formats, int8, prune, threads)


def _build_card(
    run: Any, formats: list[str], int8: bool, prune: float | None, threads: int
) -> dict[str, Any]:
    from deepworks.catalog import load_config
    from deepworks.tasks import load_data

    for fmt in formats:  # an unknown name fails first, with suggestions
        FORMATS.get(fmt)
    refuse(run.task, run.folder.id)
    run.model.exported_part()  # a network that cannot be exported says so before any work
    cfg = load_config(run.folder.config)
    limits = cfg.deploy
    test = load_data(cfg.data, cfg.task, cfg.seed).test
    x = run.task.example_inputs(run.model, test)  # an agent's: observations it met
    if x is None:
        x, _ = first_rows(test, PARITY_ROWS)
    folder = run.path / "export"
    folder.mkdir(parents=True, exist_ok=True)
    model, task = run.model.eval(), run.task
    missing = needs_beyond_forward(task, model, x[:2])
    loader = make_loader(test, 256)

    def score(module: nn.Module) -> dict[str, float]:
        return scalars(evaluate(module, task, loader))

    eager_scores = score(model)
    metric = task.main_metric if task.main_metric in eager_scores else _fallback(eager_scores)
    lower = metric in task.lower_is_better
    baseline = eager_scores[metric]

    def row(form: str, module: nn.Module, size: int, parity: float | None, **extra) -> dict:
        predict = lambda batch: task.predict(module, batch)  # noqa: E731  (what a request costs)
        with torch.inference_mode():
            p50, p99 = latency_ms(predict, x[:1])
            rows_per_s = throughput(predict, _batch(x, BATCH))
        graph_only = missing and not form.startswith("pytorch")  # an exported graph: no scoring
        value = baseline if module is model else None if graph_only else score(module)[metric]
        change = None if value is None else value - baseline
        worse = None if change is None else (change if lower else -change)
        checks = _failed_checks(limits, metric, worse, parity, p99)
        return {
            "format": form,
            "size_bytes": size,
            "p50_ms": round(p50, 4),
            "p99_ms": round(p99, 4),
            "throughput": round(rows_per_s, 1),
            "metric": value,
            "change": change,
            "parity": parity,
            "verdict": "fail: " + "; ".join(checks) if checks else "pass",
            **extra,
        }

    rows = [row("pytorch (eager)", model, run.folder.weights.stat().st_size, None)]
    for fmt in formats:
        path = folder / f"model{_suffix(fmt)}"
        exported = export_network(model, x, fmt, path, threads)
        module = model.around_exported(ExportedModel(path, fmt, threads))
        rows.append(row(fmt, module, exported["size_bytes"], exported["parity"], path=str(path)))
        if int8 and fmt == "onnx":
            small = quantize_int8(path, folder / "model.int8.onnx")
            module = model.around_exported(ExportedModel(small, "onnx", threads))
            rows.append(row("onnx int8", module, small.stat().st_size, None, path=str(small)))
    if prune:
        thin, zeros = pruned(model, prune)
        path = folder / "model.pruned.safetensors"
        save_weights(path, thin)
        rows.append(
            row(
                f"pytorch pruned {prune:.0%}",
                thin,
                path.stat().st_size,
                None,
                path=str(path),
                zero_share=round(zeros, 4),
                sparse_bytes=sparse_bytes(thin),
            )
        )
    card = {
        "run": run.folder.id,
        "metric": metric,
        "lower_is_better": lower,
        "threads": threads,
        "machine": machine(),
        "tolerances": limits.model_dump(),
        "note": (
            f"the {run.schema.task} task also needs the model's `{missing}`, which an exported "
            "graph does not carry: exported forms are checked for parity, served in PyTorch"
        )
        if missing
        else None,
        "rows": rows,
    }
    write_json(run.path / "deployment.json", card)
    return card


def _failed_checks(
    limits: Any, metric: str, worse: float | None, parity: float | None, p99: float
) -> list[str]:
    """What a form breaks of the config's `deploy` tolerances (none: it passes)."""
    checks = []
    if worse is not None and worse > limits.max_metric_drop:
        checks.append(f"{metric} {worse:.4f} worse than eager")
    if parity is not None and parity > limits.max_parity:
        checks.append(f"parity {parity:.1e} above {limits.max_parity:.0e}")
    if limits.max_latency_ms is not None and p99 > limits.max_latency_ms:
        checks.append(f"p99 {p99:.2f} ms above {limits.max_latency_ms} ms")
    return checks


def _suffix(fmt: str) -> str:
    return FORMATS.get(fmt).suffix


def _fallback(scores: dict[str, float]) -> str:
    """A per-batch metric when the task's main one is computed only at the end of a run."""
    return next((k for k in scores if k != "loss"), "loss")
