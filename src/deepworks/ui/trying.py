""" "Try it": one input from a form, a paste or an upload → the run's prediction (its
calibrated confidence, or the referral to a human, as `predict` writes them) and its
explanation (attribution bars, Grad-CAM overlays, highlighted tokens), as files become data
for the page."""

from __future__ import annotations

import base64
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepworks.core.errors import DataError


def input_form(run: Any) -> dict[str, Any]:
    """How the page asks for an input: an upload, a text, numbers, or a row's fields."""
    request = run.encoder.request
    kind = (
        "upload"
        if request.upload
        else {dict: "row", str: "text", list: "numbers"}.get(request.item, "row")
    )
    return {
        "kind": kind,
        "modality": run.schema.modality,
        "task": run.schema.task,
        "fields": run.encoder.request_fields() if kind == "row" else [],
        "width": int(run.schema.input_shape[0]) if kind == "numbers" else None,
        "help": request.help,
        "explains": "explainable" in run.task.tags,
    }


def _encoded(run: Any, body: dict[str, Any] | None, upload: tuple[bytes, str] | None):
    encoder, request = run.encoder, run.encoder.request
    if request.upload:
        if upload is None:
            raise DataError("this run takes a file upload")
        item = encoder.decode_upload(*upload)
    else:
        if not body or "input" not in body:
            raise DataError(f"send {{'input': ...}}: {request.help}")
        item = body["input"]
        if request.item is dict and isinstance(item, dict):  # form fields arrive as text
            numbers = {f["name"] for f in encoder.request_fields() if f["kind"] == "number"}
            item = {k: (float(v) if k in numbers and v not in ("", None) else v)
                    for k, v in item.items()}  # fmt: skip
    return item, encoder.request_inputs([item])


def try_input(run: Any, body: dict[str, Any] | None, upload: tuple[bytes, str] | None) -> dict:
    """The prediction of one input and, where the task is explainable, its explanation."""
    started = time.perf_counter()
    item, inputs = _encoded(run, body, upload)
    try:
        frame = run.predict(inputs)
        answer: dict[str, Any] = {"prediction": _plain(frame.to_dict(orient="records")[0])}
        if "explainable" in run.task.tags:
            answer["explanation"] = _explained(run, inputs)
    finally:
        run.encoder.release([item])
    answer["seconds"] = round(time.perf_counter() - started, 3)
    return answer


def _explained(run: Any, inputs: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(f) for f in run.explain_to(inputs, tmp, batch_size=1, limit=1)]
        pictures = [_data_uri(f) for f in files if f.suffix == ".png"]
        html = next((f.read_text(encoding="utf-8") for f in files if f.suffix == ".html"), None)
        tables = {f.stem: f.read_text(encoding="utf-8") for f in files
                  if f.suffix == ".csv" and f.stem.startswith("attributions")}  # fmt: skip
    return {"pictures": pictures, "html": html, "tables": tables}


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: numpy numbers as Python's, NaN as null."""
    out = {}
    for key, value in row.items():
        value = value.item() if isinstance(value, np.generic) else value
        out[str(key)] = None if isinstance(value, float) and math.isnan(value) else value
    return out
