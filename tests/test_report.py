"""The run report: every section, images embedded, rendering in a real headless browser."""

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import deepworks
from deepworks.analyses.slices import groups_of
from tests.conftest import assert_user_error, tiny_config

SECTIONS = [
    "config",
    "audit",
    "training",
    "metrics",
    "leaderboard",
    "calibration",
    "slices",
    "explanations",
    "deployment",
]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    raw = tiny_config("digits", model="cnn", epochs=2)
    raw["evaluate"] = {"explain": 2, "baselines": ["logistic-regression"]}
    return deepworks.run(raw, runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def test_the_report_has_every_section_with_its_images_embedded(digits_run):
    page = (digits_run.path / "report.html").read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    images = re.findall(r'<img src="([^"]*)"', page)
    # learning curves, confusion matrix, ROC/PR, calibration, two explanations
    assert len(images) >= 6
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in page and "https://" not in page  # nothing fetched
    verdict = digits_run.folder.read_json(digits_run.path / "leaderboard.json")["verdict"]
    assert "logistic-regression" in page and verdict in page
    assert set(digits_run.leaderboard["model"]) == {"cnn (deep)", "trivial", "logistic-regression"}


def test_report_command_rebuilds_it(digits_run, cli, tmp_path):
    (digits_run.path / "report.html").unlink()
    result = cli("report", digits_run.path)
    assert result.code == 0, result.err
    assert result.last_line == str(digits_run.path / "report.html")
    assert (digits_run.path / "report.html").stat().st_size > 10_000
    assert_user_error(cli("report", "no-such-run", "--runs-dir", tmp_path), "no run")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make install adds it)")
def test_the_report_renders_in_headless_chromium(digits_run, tmp_path):
    url = (digits_run.path / "report.html").as_uri()
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    # the page's own check, run by the browser once everything has loaded
    check = re.search(r'id="render-check">(\d+) figures, (\d+) broken, (\d+) errors<', dom)
    assert check, dom[-500:]
    figures, broken, errors = map(int, check.groups())
    assert figures >= 6 and broken == 0 and errors == 0
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1280,4000", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (4000, 1280)
    assert pixels.std() > 20  # text and figures, not a blank page


def test_per_slice_metrics_find_the_group_the_model_fails(tmp_path):
    rng = np.random.default_rng(0)
    n = 900
    frame = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "site": rng.choice(["a", "b"], n)}
    )
    # at site b the label is a coin flip: no model can do well there
    label = frame["x1"] > 0
    noise = rng.random(n) < 0.5
    frame["label"] = np.where((frame["site"] == "b") & noise, ~label, label).astype(int)
    frame["age"] = rng.integers(18, 90, size=n)
    frame.to_csv(tmp_path / "t.csv", index=False)
    raw = tiny_config("csv", epochs=10)
    raw["data"].update(path=str(tmp_path / "t.csv"), target="label")
    raw["evaluate"] = {"slices": "site", "baselines": False, "explain": 0}
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    slices = run.folder.read_json(run.path / "slices.json")
    by = {g["group"]: g for g in slices["groups"]}
    assert set(by) == {"a", "b"}
    test_rows = run.folder.read_json(run.path / "audit.json")["stats"]["rows"]["test"]
    assert by["a"]["rows"] + by["b"]["rows"] == test_rows
    assert by["a"]["accuracy"] > 0.85 and by["b"]["accuracy"] < 0.7
    assert slices["gap"] == pytest.approx(by["a"]["accuracy"] - by["b"]["accuracy"])
    assert any(f["check"] == "slices" and "`site`" in f["message"] for f in run.audit)
    assert (run.path / "slices.png").is_file()
    assert "Test split by <b>site</b>" in (run.path / "report.html").read_text()
    # numbers with many values are cut into quartiles
    groups, binned = groups_of(frame["age"])
    assert binned and groups.nunique() == 4
    assert groups.cat.categories[0].startswith("18 to")  # youngest first, not as text


def test_a_slice_column_that_does_not_exist_fails_before_training(tmp_path, cli):
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {dataset: iris}\nmodel: {name: mlp}\ntrain: {epochs: 1}\n"
        "evaluate: {slices: targte}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs", "-q")
    assert_user_error(result, "evaluate.slices", "Did you mean `target`")
    config.write_text(
        "data: {dataset: digits}\nmodel: {name: cnn}\ntrain: {epochs: 1}\n"
        "evaluate: {slices: label}\n"
    )
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs", "-q"), "slice")
