"""A separately installed package adds a kind of data, a task, a model and an analysis through
entry points, and runs end to end from YAML like any built-in."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugin_demo"
DEEPWORKS = str(Path(sys.executable).parent / "deepworks")


@pytest.fixture
def site(tmp_path) -> Path:
    """The plug-in 'installed' into a fresh folder on the Python path: its module and its
    .dist-info (metadata + entry_points.txt), as pip would lay them out."""
    site = tmp_path / "site"
    shutil.copytree(PLUGIN, site)
    return site


def _deepworks(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [DEEPWORKS, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_a_plugin_registers_and_runs_end_to_end_from_yaml(site, tmp_path):
    listed = _deepworks(site, "models")
    assert listed.returncode == 0 and "tiny" in listed.stdout
    assert "polar-points" in _deepworks(site, "datasets").stdout

    config = tmp_path / "polar.yaml"
    config.write_text(
        "data: {dataset: polar-points, batch_size: 32}\n"
        "model: {name: tiny, hidden: 32}\n"
        "train: {epochs: 40, optimizer: {name: adam, lr: 0.02}}\n"
        "evaluate: {explain: 0}\n"
    )
    run = _deepworks(site, "run", str(config), "--runs-dir", str(tmp_path / "runs"), "-q")
    assert run.returncode == 0, run.stderr[-3000:]
    folder = Path(run.stdout.strip().splitlines()[-1])
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "completed" and info["task"] == "median-regression"
    # The plug-in's analysis ran after training, and the model learned: far better than the
    # trivial answer of the training median.
    report = json.loads((folder / "median-baseline.json").read_text())
    assert report["model_mae"] < 0.5 * report["median_mae"]

    rows = tmp_path / "new.csv"
    rows.write_text("radius,angle\n1.0,1.5707963\n2.0,-1.5707963\n")
    predicted = _deepworks(site, "predict", str(folder), str(rows), "-o", str(tmp_path / "p.csv"))
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    heights = [float(line.split(",")[-1]) for line in (tmp_path / "p.csv").read_text().split()[1:]]
    assert heights[0] > 0.6 and heights[1] < -1.2  # y = r·sin θ: about 1 and -2


def test_a_broken_plugin_is_named_not_a_traceback(site, tmp_path):
    (site / "dw_polar.py").write_text("raise ImportError('missing dependency xyz')\n")
    result = _deepworks(site, "models")
    assert result.returncode == 2
    assert "plugin `polar`" in result.stderr and "missing dependency xyz" in result.stderr
    assert "Traceback" not in result.stderr
