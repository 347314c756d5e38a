"""Export a run's network to ONNX or TorchScript, with a parity check on real test inputs.

What is exported is the network's ``forward`` — encoded inputs in, raw outputs out, any batch
size. The task's own code (softmax and calibration, a forecast's rescaling, thresholds) stays
in Python around it, so an exported model predicts, evaluates and serves through the same
paths as the eager one: ``ExportedModel`` is an ``nn.Module`` whose forward calls the runtime.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepworks.core.errors import ConfigError, RunError
from deepworks.core.registry import Registry
from deepworks.train.checkpoint import atomic_write

# Real test inputs the parity check compares on.
PARITY_ROWS = 64


@dataclass
class Format:
    export: Callable[[nn.Module, torch.Tensor, Path, dict[str, dict[int, str]]], None]
    load: Callable[[Path, int], Callable[[np.ndarray], np.ndarray]]
    suffix: str


FORMATS: Registry[Format] = Registry("export format", ConfigError)


def _register(name: str, suffix: str, help: str):
    def decorator(pair: tuple[Callable, Callable]):
        FORMATS.register(name, help=help)(Format(pair[0], pair[1], suffix))
        return pair

    return decorator


def _onnx_export(
    model: nn.Module, example: torch.Tensor, path: Path, axes: dict[str, dict[int, str]]
) -> None:
    # The TorchScript-based exporter: it handles packed sequences (our RNNs) and data-dependent
    # trimming that torch.export cannot trace; parity is checked right after either way.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes=axes,
            opset_version=17,
        )


def onnx_session(path: Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx_load(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    session = onnx_session(path, threads)
    return lambda x: session.run(None, {"input": x})[0]


_register("onnx", ".onnx", "ONNX (opset 17), run by onnxruntime")((_onnx_export, _onnx_load))


def _torchscript_export(
    model: nn.Module, example: torch.Tensor, path: Path, axes: dict[str, dict[int, str]]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (example,), check_trace=False)
        torch.jit.save(traced, str(path))


def _torchscript_load(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    with warnings.catch_warnings():  # TorchScript is deprecated upstream; it still runs
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path)).eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run


_register("torchscript", ".pt", "TorchScript (traced), run by libtorch")(
    (_torchscript_export, _torchscript_load)
)


class ExportedModel(nn.Module):
    """An exported network behind the nn.Module interface the tasks call."""

    def __init__(self, path: Path, fmt: str = "onnx", threads: int = 1) -> None:
        super().__init__()
        self.path, self.format = Path(path), fmt
        self.run = FORMATS.get(fmt).load(self.path, threads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.run(x.detach().cpu().numpy())))


class ForwardOnly(nn.Module):
    """The network with nothing but ``forward``: what an exported graph offers."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.net = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def needs_beyond_forward(task: Any, model: nn.Module, x: torch.Tensor) -> str | None:
    """The model method a task needs besides ``forward`` (a SOM's distances, a VAE's ELBO
    terms), found by running the task's evaluation and prediction on ``forward`` alone; None
    when the exported graph serves the task whole."""
    probe = model.around_exported(ForwardOnly(model.exported_part())).eval()
    y = torch.zeros(len(x), dtype=torch.long)
    try:
        with torch.no_grad():
            task.predict(probe, x)
            if getattr(task, "automatic_optimization", True):
                task.evaluation_step(probe, (x, y))
    except AttributeError as exc:
        return str(exc).split("'")[-2] if "'" in str(exc) else str(exc)
    except Exception:  # a probe only: a target of the wrong kind is not its business
        return None
    return None


def export_example(x: torch.Tensor) -> torch.Tensor:
    """The tracing input: real rows, with the first made full-width for token ids, so
    padding trimmed by a model is traced as no trimming (right for every later input)."""
    example = x[: min(len(x), 8)].clone()
    if example.dtype == torch.long and example.dim() >= 2:
        example[0] = torch.where(example[0] == 0, torch.ones_like(example[0]), example[0])
    return example


def refuse(task: Any, run_id: str) -> None:
    if task.generates == "images":
        raise RunError(
            f"run {run_id} is a GAN: it draws images from noise (`deepworks generate`) rather "
            "than mapping an input to a prediction, and export covers prediction networks"
        )


def export_network(
    model: nn.Module, x: torch.Tensor, fmt: str, path: Path, threads: int = 1
) -> dict[str, Any]:
    """Export ``model`` and check it against eager PyTorch on ``x`` (real inputs, two batch
    sizes); returns the file, its size and the largest absolute difference."""
    entry = FORMATS.get(fmt)
    x, axes = model.eval().export_inputs(x), model.export_axes
    model = model.exported_part().eval()  # all of it, or a detector's dense part
    example = export_example(x)
    # whole or not at all: a kill mid-export leaves the previous file, which still serves
    atomic_write(path, lambda part: entry.export(model, example, part, axes))
    exported = ExportedModel(path, fmt, threads)
    parity = 0.0
    for batch in (x, x[:1]):  # the batch dimension is free
        with torch.no_grad():
            expected = model(batch).float()
        got = exported(batch).float()
        parity = max(parity, float((expected - got).abs().max()))
    return {"format": fmt, "path": str(path), "size_bytes": path.stat().st_size, "parity": parity}
