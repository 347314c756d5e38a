"""The dashboard's server: a JSON API over the runs directory and one page that draws it.

Everything the page needs is served from here (its script, its styles, uPlot for the charts,
vendored), so no request leaves the machine. It binds 127.0.0.1 unless told otherwise; with a
token, every API call must carry it (a bearer header, or the cookie `/?token=...` sets).
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from deepworks.core.errors import DataError, DeepworksError
from deepworks.ui import runs as pages
from deepworks.ui.studies import studies
from deepworks.ui.trying import input_form, try_input

STATIC = Path(__file__).parent / "static"
_TYPES = {".png": "image/png", ".gif": "image/gif"}


def create_app(runs_dir: str | Path = "runs", token: str | None = None) -> FastAPI:
    runs_dir = Path(runs_dir)
    app = FastAPI(title="deepworks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def authorized(request: Request, call_next):
        if token and request.url.path.startswith("/api/"):
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            given = given or request.cookies.get("deepworks_token", "")
            if not secrets.compare_digest(given, token):
                return JSONResponse({"detail": "a token is required"}, 401)
        return await call_next(request)

    @app.exception_handler(DeepworksError)
    async def user_error(request: Request, exc: DeepworksError):
        return JSONResponse({"detail": str(exc)}, 422 if isinstance(exc, DataError) else 404)

    @lru_cache(maxsize=8)
    def loaded(path: str, stamp: float) -> Any:  # a run, reloaded when its weights change
        from deepworks.predict import load

        return load(path)

    def run_of(run_id: str) -> Any:
        folder = pages.folder_of(runs_dir, run_id)
        return loaded(str(folder.path), folder.weights.stat().st_mtime)

    @app.get("/")
    async def index():
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/login")
    async def login(key: str):
        """`/login?key=TOKEN` keeps the token in a cookie for the page's calls."""
        response = RedirectResponse("/")
        response.set_cookie("deepworks_token", key, httponly=True, samesite="strict")
        return response

    @app.get("/api/runs")
    async def runs() -> list[dict[str, Any]]:
        return pages.run_rows(runs_dir)

    @app.get("/api/runs/{run_id}")
    async def run_page(run_id: str) -> dict[str, Any]:
        return pages.run_page(pages.folder_of(runs_dir, run_id))

    @app.get("/api/runs/{run_id}/files/{name:path}")
    async def run_file(run_id: str, name: str):
        folder = pages.folder_of(runs_dir, run_id)
        path = (folder.path / name).resolve()
        if folder.path.resolve() not in path.parents or path.suffix not in {*_TYPES, ".html"}:
            raise HTTPException(404, "no such figure")
        if not path.is_file():
            raise HTTPException(404, f"{name} is not in run {folder.id}")
        return FileResponse(path, media_type=_TYPES.get(path.suffix, "text/html"))

    @app.get("/api/compare")
    async def compare(ids: str) -> dict[str, Any]:
        chosen = [i for i in ids.split(",") if i]
        if len(chosen) < 2:
            raise HTTPException(422, "pick two or more runs to compare")
        return pages.compare(runs_dir, chosen)

    @app.get("/api/runs/{run_id}/form")
    def form(run_id: str) -> dict[str, Any]:
        return input_form(run_of(run_id))

    @app.post("/api/runs/{run_id}/try")
    async def try_it(run_id: str, request: Request) -> dict[str, Any]:
        run = run_of(run_id)
        if request.headers.get("content-type", "").startswith("multipart/"):
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPException(422, "send the file as the form field `file`")
            data = (await upload.read(), upload.filename or "upload")
            return await run_in_threadpool(try_input, run, None, data)
        return await run_in_threadpool(try_input, run, await request.json(), None)

    @app.get("/api/studies")
    def study_list() -> list[dict[str, Any]]:
        return studies(runs_dir)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
