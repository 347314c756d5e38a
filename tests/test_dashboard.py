"""The dashboard end to end in headless Chromium (Playwright), with every request that would
leave the machine blocked: list → filter → compare two runs → a run's page → try a table row
and an image, whose predictions must equal `Run.predict` on the same input."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepworks

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
SHOTS = os.environ.get("DEEPWORKS_SCREENSHOTS")  # a folder: keep the screenshots there


def _iris(hidden: list[int], name: str) -> dict:
    return {"name": name, "data": {"dataset": "iris", "batch_size": 16},
            "model": {"name": "mlp", "hidden": hidden}, "train": {"epochs": 6},
            "evaluate": {"baselines": False, "explain": 0}}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash")
    made = [deepworks.run(_iris(h, n), runs_dir=root, threads=1, progress=False)
            for h, n in (([8], "iris-small"), ([32, 16], "iris-wide"))]  # fmt: skip
    digits = {"name": "digits-cnn", "data": {"dataset": "digits", "limit": 400},
              "model": {"name": "cnn", "channels": [8]}, "train": {"epochs": 2},
              "evaluate": {"baselines": False, "explain": 0}}  # fmt: skip
    made.append(deepworks.run(digits, runs_dir=root, threads=1, progress=False))
    return root, made


@pytest.fixture(scope="module")
def server(runs):
    import uvicorn

    from deepworks.ui import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(runs[0]), host="127.0.0.1", port=port, log_level="error")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _not_blank(path: Path) -> None:
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert pixels.std() > 15, f"{path.name} looks blank"


def test_the_dashboard_lists_filters_compares_and_tries_a_model(runs, server, tmp_path):
    _root, (small, _wide, digits) = runs
    shots = Path(SHOTS) if SHOTS else tmp_path
    left, errors = [], []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def local_only(route):  # the network is blocked: only the dashboard itself answers
            if route.request.url.startswith(server):
                route.continue_()
            else:
                left.append(route.request.url)
                route.abort()

        context.route("**/*", local_only)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(server + "/")
        page.wait_for_selector("#runs tbody tr")
        assert page.locator("#runs tbody tr").count() == 3
        page.fill("#filter", "iris")
        page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 2")
        page.screenshot(path=shots / "dashboard-runs.png")
        for box in page.locator("input.pick").all():
            box.check()
        page.click("#compare")
        page.wait_for_selector("#metrics tbody tr")
        assert page.locator("#metrics td.best").count() >= 1  # the best per row, marked
        page.wait_for_selector("#overlay canvas")
        page.screenshot(path=shots / "dashboard-compare.png", full_page=True)

        page.goto(server + "/#/")
        page.wait_for_selector("#runs tbody tr")
        page.click(f"a[href='#/run/{small.folder.id}']")
        page.wait_for_selector("#curves canvas")
        page.wait_for_selector("#try-form input")
        page.fill("#f-petal\\ length\\ \\(cm\\)", "5.1")  # a flower leaning to virginica
        page.click("#predict")
        page.wait_for_selector("#prediction")
        shown = page.locator("#prediction td[data-key='prediction']").inner_text()
        page.wait_for_selector("img.why")  # its explanation
        page.screenshot(path=shots / "dashboard-try.png", full_page=True)
        row = {f["name"]: float(f["default"]) for f in small.encoder.request_fields()}
        row["petal length (cm)"] = 5.1
        expected = small.predict(pd.DataFrame([row]))
        assert shown == expected["prediction"][0]
        probability = page.locator(f"#prediction td[data-key='proba_{shown}']").inner_text()
        assert float(probability) == pytest.approx(expected[f"proba_{shown}"][0], abs=1e-4)

        image = tmp_path / "digit.png"
        from PIL import Image
        from sklearn.datasets import load_digits

        pixels = load_digits().images[7] * 255 / 16  # a 7
        Image.fromarray(pixels.astype(np.uint8)).resize((32, 32)).save(image)
        page.goto(server + f"/#/run/{digits.folder.id}")
        page.wait_for_selector("#file")
        page.set_input_files("#file", str(image))
        page.click("#predict")
        page.wait_for_selector("#prediction")
        shown = page.locator("#prediction td[data-key='prediction']").inner_text()
        assert shown == str(digits.predict(image)["prediction"][0])

        page.goto(server + "/#/studies")
        page.wait_for_selector("h1")
        browser.close()
    assert not left, left  # nothing asked for outside the machine
    assert not errors, errors
    for name in ("dashboard-runs.png", "dashboard-compare.png", "dashboard-try.png"):
        _not_blank(shots / name)


def test_the_api_asks_for_the_token_when_one_is_set(runs):
    from fastapi.testclient import TestClient

    from deepworks.ui import create_app

    with TestClient(create_app(runs[0], token="s3cret")) as client:
        assert client.get("/api/runs").status_code == 401
        assert client.get("/").status_code == 200  # the page; its calls need the token
        ok = client.get("/api/runs", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and len(ok.json()) == 3
        client.get("/login?key=s3cret")  # the cookie the page's calls carry
        assert client.get("/api/runs").status_code == 200
        missing = client.get("/api/runs/no-such-run")
        assert missing.status_code == 404 and "no-such-run" in missing.json()["detail"]
        escape = client.get(f"/api/runs/{runs[1][0].folder.id}/files/../../etc/passwd")
        assert escape.status_code == 404
