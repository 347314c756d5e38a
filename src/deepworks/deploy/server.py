"""`deepworks serve RUN`: a FastAPI app over a finished run, run by uvicorn.

Requests carry raw inputs as the data came (table rows as JSON, texts, image or WAV uploads);
the run's own encoders and task turn them into predictions, exactly as ``Run.predict`` does.
When the run has been exported (``deepworks export``), the network runs in onnxruntime.

Each request is decoded and encoded on its own first, so a bad input is refused (422, one log
line) before it meets anyone else's. Encoded requests then queue for the network: a worker
takes what has gathered (up to ``max_batch`` inputs, waiting at most ``wait_ms`` for company)
and runs it in one call. Slow clients are cut off: the request headers must arrive within
``header_timeout`` seconds and the body within ``body_timeout``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from deepworks.core.batch import Payload, concat, shape_key, size
from deepworks.core.encoder import RequestFormat
from deepworks.core.errors import DataError, DeepworksError
from deepworks.metrics.evaluator import scalars

TOKEN_ENV = "DEEPWORKS_TOKEN"
log = logging.getLogger("deepworks.serve")


@dataclass
class Pending:
    items: list[Any]  # one request's decoded inputs
    future: asyncio.Future = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


Answer = list[dict] | BaseException  # a request's prediction records, or why it failed


class Batcher:
    """Micro-batching: requests queue; one worker thread answers what has gathered with one
    call of ``answer`` (a list of requests' items → one Answer per request)."""

    def __init__(
        self, answer: Callable[[list[list[Any]]], list[Answer]], max_batch: int, wait_ms: float
    ):
        self.answer, self.max_batch, self.wait = answer, max_batch, wait_ms / 1e3
        self.queue: asyncio.Queue[Pending] = asyncio.Queue()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self.batches = 0  # how many batches served the requests (metadata shows it)
        self.requests = 0

    async def submit(self, items: list[Any]) -> list[dict]:
        pending = Pending(items)
        await self.queue.put(pending)
        return await pending.future

    async def work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.wait
            while sum(len(p.items) for p in batch) < self.max_batch:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            self.batches += 1
            self.requests += len(batch)
            try:
                answers = await loop.run_in_executor(
                    self.pool, self.answer, [p.items for p in batch]
                )
            except Exception as exc:  # a fault of the server's, not of a request: a 500
                answers = [exc] * len(batch)
            for pending, answer in zip(batch, answers, strict=True):
                if pending.future.done():  # its client went away and the handler was cancelled
                    continue
                if isinstance(answer, BaseException):
                    pending.future.set_exception(answer)
                else:
                    pending.future.set_result(answer)


def answer_requests(run: Any, requests: list[list[Any]]) -> list[Answer]:
    """Each request encoded on its own, so a bad one fails alone before it meets the others;
    the good ones then go through the network together, one call per input shape."""
    answers: list[Answer] = [[] for _ in requests]
    encoded: dict[int, tuple[list[Any], Payload, list[str] | None]] = {}
    for number, items in enumerate(requests):
        try:
            inputs = run.encoder.request_inputs(items)
            ids, batches = run.encode(inputs)
            encoded[number] = ids, concat(list(batches)), run.encoder.novelty(inputs)
        except Exception as exc:  # a DeepworksError is the client's (422); others a 500
            answers[number] = exc
        finally:
            run.encoder.release(items)
    groups: dict[Any, list[int]] = {}
    for number, (_, x, _) in encoded.items():
        groups.setdefault(shape_key(x), []).append(number)
    for numbers in groups.values():
        out = run.forward(concat([encoded[n][1] for n in numbers]))
        if run.task.row_per_input:  # one table for all, cut back into each request's rows
            parts = [(numbers, out)]
        else:  # rows per box: each request's table made from its own outputs
            cuts = list(itertools.accumulate((size(encoded[n][1]) for n in numbers), initial=0))
            parts = [
                ([n], {k: v[a:b] for k, v in out.items()})
                for n, a, b in zip(numbers, cuts[:-1], cuts[1:], strict=True)
            ]
        for group, group_out in parts:
            _answer(run, encoded, group, group_out, answers)
    return answers


def _answer(run: Any, encoded: dict, numbers: list[int], out: Any, answers: list) -> None:
    """The rows of ``out`` (the outputs of requests ``numbers``, in order) into ``answers``."""
    ids = [i for n in numbers for i in encoded[n][0]]
    novel = [encoded[n][2] for n in numbers]
    flags = None if None in novel else [r for reasons in novel for r in reasons]
    records = run.frame(ids, out, flags)
    if run.task.row_per_input:  # the request's order says which input; else `input` does
        records = records.drop(columns=["input"], errors="ignore")
    plain = [{k: _plain(v) for k, v in r.items()} for r in records.to_dict(orient="records")]
    if len(numbers) == 1:
        answers[numbers[0]] = plain
        return
    start = 0
    for n in numbers:
        answers[n], start = plain[start : start + size(encoded[n][1])], start + size(encoded[n][1])


def load_for_serving(run_ref: str | Path, runs_dir: str | Path, threads: int = 1):
    """The run, its network in onnxruntime when exported (and the task needs no more than the
    exported forward); returns the run and the runtime's name."""
    from deepworks.deploy.export import ExportedModel
    from deepworks.predict import load

    run = load(run_ref, runs_dir)
    onnx, card = run.path / "export" / "model.onnx", run.path / "deployment.json"
    if onnx.is_file() and card.is_file() and not run.folder.read_json(card).get("note"):
        run.model = run.model.around_exported(ExportedModel(onnx, "onnx", threads))
        return run, "onnxruntime"
    return run, "pytorch"


def create_app(
    run: Any,
    runtime: str = "pytorch",
    token: str | None = None,
    max_bytes: int = 1_000_000,
    max_batch: int = 64,
    wait_ms: float = 2.0,
    max_rows: int = 1024,
    body_timeout: float = 30.0,
):
    modality = run.schema.modality
    batcher = Batcher(lambda requests: answer_requests(run, requests), max_batch, wait_ms)
    bearer = HTTPBearer(auto_error=False)

    async def lifespan(app):
        worker = asyncio.create_task(batcher.work())
        yield
        worker.cancel()

    app = FastAPI(
        title=f"deepworks · {run.folder.id}",
        description=f"{run.schema.task} on {modality} data ({runtime})",
        lifespan=lifespan,
        docs_url=None,  # served below, behind the token like everything but /health
        openapi_url=None,
    )

    def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token is None:
            return
        if credentials is None or not secrets.compare_digest(credentials.credentials, token):
            raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(authorized)])
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(authorized)])
    async def docs():
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    # A client's mistake is a 4xx with its reason, and one line in the log (no traceback).
    def refused(request: Request, status: int, detail: str, headers: Any = None) -> JSONResponse:
        client = request.client.host if request.client else "?"
        log.warning("%s %s %s → %d: %s", client, request.method, request.url.path, status, detail)
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(DeepworksError)
    async def user_error(request: Request, exc: DeepworksError):
        return refused(request, 422, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return refused(request, exc.status_code, str(exc.detail), exc.headers)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata", dependencies=[Depends(authorized)])
    async def metadata() -> dict[str, Any]:
        schema = run.schema
        return {
            "run": run.folder.id,
            "task": schema.task,
            "modality": modality,
            "runtime": runtime,
            "classes": schema.classes,
            "inputs": _input_help(run),
            "test_metrics": scalars(run.metrics["test"]),
            "micro_batches": {"requests": batcher.requests, "batches": batcher.batches},
        }

    async def body_of(request: Request) -> tuple[list[Any], bool]:
        """The request's raw inputs (JSON values, or uploads' bytes and names) and whether
        they are uploads; the body must come whole within ``body_timeout`` seconds."""
        declared = request.headers.get("content-length", "")
        too_big = HTTPException(413, f"request body over the {max_bytes}-byte limit")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_big  # refused before reading it
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            if not declared.isdigit():
                raise HTTPException(411, "uploads need a Content-Length header")
            form = await request.form()
            uploads = [v for _, v in form.multi_items() if not isinstance(v, str)]
            return [(await u.read(), u.filename) for u in uploads], True
        body = bytearray()
        async for chunk in request.stream():  # a body without a length is counted as read
            body += chunk
            if len(body) > max_bytes:
                raise too_big
        try:
            return json.loads(body), False
        except ValueError:
            raise HTTPException(400, "the body is not valid JSON") from None

    def items_of(payload: Any, uploads: bool, many: bool) -> list[Any]:
        """A request's inputs, decoded (uploads) and checked for shape and count."""
        items: list[Any] = []
        try:
            if uploads:
                for data, name in payload:  # appended one by one: all are released on failure
                    items.append(run.encoder.decode_upload(data, name))
            else:
                items = _json_items(run.encoder.request, payload, many)
            if not items:
                raise HTTPException(422, "no inputs in the request")
            if len(items) > max_rows:
                raise HTTPException(413, f"{len(items)} inputs; at most {max_rows} per request")
            _check_columns(items, run.encoder.request_columns())
        except Exception:
            run.encoder.release(items)
            raise
        return items

    async def answer(request: Request, many: bool) -> list[dict]:
        try:
            async with asyncio.timeout(body_timeout):
                payload, uploads = await body_of(request)
        except TimeoutError:
            raise HTTPException(408, f"the body did not arrive within {body_timeout:g} s") from None
        if uploads:  # decoding files takes time: off the event loop
            loop = asyncio.get_running_loop()
            items = await loop.run_in_executor(None, items_of, payload, uploads, many)
        else:
            items = items_of(payload, uploads, many)
        return await batcher.submit(items)

    json_or_upload = {
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "multipart/form-data": {"schema": {"type": "object"}},
            }
        }
    }

    @app.post("/predict", dependencies=[Depends(authorized)], openapi_extra=json_or_upload)
    async def predict(request: Request) -> dict[str, Any]:
        """One input: a table row as a JSON object of column values, {"text": ...}, or an
        image / WAV upload (multipart, field `file`)."""
        rows = await answer(request, many=False)
        return rows[0] if len(rows) == 1 else {"predictions": rows}

    @app.post("/predict/batch", dependencies=[Depends(authorized)], openapi_extra=json_or_upload)
    async def predict_batch(request: Request) -> dict[str, Any]:
        """Many inputs: {"rows": [...]}, {"texts": [...]}, or several uploads."""
        return {"predictions": await answer(request, many=True)}

    return app


def _json_items(request: RequestFormat, payload: Any, many: bool) -> list[Any]:
    """Inputs from a JSON body, with a 422 naming the expected shape when it is not there."""
    if request.upload:
        raise HTTPException(415, f"these inputs come as file uploads: {request.help}")
    if many:
        values = payload.get(request.many) if isinstance(payload, dict) else None
        if not isinstance(values, list):
            raise HTTPException(422, f'expected {{"{request.many}": [...]}}')
    elif request.one:
        if not isinstance(payload, dict) or not isinstance(payload.get(request.one), request.item):
            raise HTTPException(422, f'expected {{"{request.one}": ...}}: {request.help}')
        values = [payload[request.one]]
    elif request.grouped and isinstance(payload, dict) and request.many in payload:
        values = payload[request.many]  # a forecast's input is its recent rows
    else:
        values = [payload]
    if not all(isinstance(v, request.item) for v in values):
        kind = "strings" if request.item is str else "JSON objects of column values"
        raise HTTPException(422, f"every input must be one of: {kind}")
    return values


def _check_columns(items: list[Any], columns: list[str]) -> None:
    from deepworks.core.errors import did_you_mean

    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            continue
        missing = [c for c in columns if c not in item]
        if missing:
            hint = did_you_mean(missing[0], [k for k in item if k not in columns])
            where = f"input {number}" if len(items) > 1 else "the input"
            raise DataError(
                f"{where} lacks column(s) {', '.join(f'`{c}`' for c in missing[:5])}.{hint} "
                f"Expected: {', '.join(columns)}."
            )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _input_help(run: Any) -> dict[str, Any]:
    request, columns = run.encoder.request, run.encoder.request_columns()
    return {"upload" if request.upload else "json": request.help} | (
        {"columns": columns} if columns else {}
    )


def serve(
    run_ref: str | Path,
    runs_dir: str | Path = "runs",
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    max_bytes: int = 1_000_000,
    max_batch: int = 64,
    threads: int = 1,
    header_timeout: float = 10.0,
    body_timeout: float = 30.0,
) -> None:
    import uvicorn

    from deepworks.deploy.slow_clients import with_header_timeout
    from deepworks.runtime import set_threads

    set_threads(threads)
    run, runtime = load_for_serving(run_ref, runs_dir, threads)
    token = token or os.environ.get(TOKEN_ENV) or None
    app = create_app(run, runtime, token, max_bytes, max_batch, body_timeout=body_timeout)
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s", level=logging.WARNING)
    print(f"serving run {run.folder.id} ({runtime}) on http://{host}:{port} — docs at /docs")
    uvicorn.run(
        app, host=host, port=port, log_level="warning", http=with_header_timeout(header_timeout)
    )
