"""Hostile states: runs killed before their first checkpoint, disks that fill up, two writers
on one folder, damaged run files and indexes, names that look alike, exports killed halfway.
Each ends as a user would want: nothing lost, and the way on said in one line."""

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import deepworks
from deepworks.train.trainer import Trainer
from tests.bad_inputs.helpers import fingerprint, refused
from tests.conftest import Killed, assert_user_error, tiny_config

# ------------------------------------------------------------------- run folders


def test_a_run_name_resolves_exactly_never_by_its_end(tmp_path, cli):
    runs = tmp_path / "runs"
    iris = deepworks.run(tiny_config("iris", epochs=1) | {"name": "iris"}, runs_dir=runs)
    deepworks.run(
        tiny_config("diabetes", epochs=1) | {"name": "old-iris"}, runs_dir=runs, progress=False
    )  # newer, and its name ends with `iris`
    assert deepworks.load("iris", runs).path == iris.path
    assert deepworks.load("old-iris", runs).schema.task == "regression"
    refused(cli("evaluate", "iri", "--runs-dir", runs), "no run `iri`", "`iris`")


def test_a_damaged_run_or_index_never_breaks_the_listing(price_run, tmp_path, cli):
    runs = price_run.path.parent
    broken = runs / "20200101-000000-broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"id": "20200101-000000-broken", "status": "run')
    (runs / "index.sqlite").write_bytes(b"this is not a database" * 100)
    listing = cli("runs", "--runs-dir", runs)
    assert listing.code == 0, listing.err
    assert price_run.path.name in listing.out and "damaged" in listing.out
    with sqlite3.connect(runs / "index.sqlite") as con:  # rebuilt from the folders
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    refused(cli("runs", "show", broken, "--runs-dir", runs), "damaged", "run.json")
    for path in broken.iterdir():
        path.unlink()
    broken.rmdir()


def test_a_second_writer_is_refused_while_the_first_holds_the_run(price_run, tmp_path, cli):
    before = fingerprint(price_run.path)
    with price_run.folder.lock():
        result = cli("export", price_run.path)
        refused(result, "being written by process", "wait for it")
    assert fingerprint(price_run.path) == before


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path, monkeypatch):
    raw = tiny_config("iris", epochs=3) | {"name": "early"}
    whole = deepworks.run(raw, runs_dir=tmp_path / "whole", progress=False)

    def die_before_saving(self, *args):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_save", die_before_saving)
        with pytest.raises(Killed):
            deepworks.run(raw, runs_dir=tmp_path / "killed", progress=False)
    (folder,) = [p for p in (tmp_path / "killed").iterdir() if p.is_dir() and p.name != ".cache"]
    assert not (folder / "checkpoints" / "last.pt").exists()
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "failed" and "Killed" in info["reason"]

    resumed = deepworks.resume(folder, runs_dir=tmp_path / "killed", progress=False)
    a, b = (
        load_file(whole.path / "model.safetensors"),
        load_file(resumed.path / "model.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.info["status"] == "completed" and resumed.info.get("reason") is None
    assert [r["train_loss"] for r in whole.history()] == [
        r["train_loss"] for r in resumed.history()
    ]


def test_a_disk_that_fills_up_mid_run_fails_it_cleanly_and_resume_finishes_it(
    tmp_path, monkeypatch, cli
):
    """The disk fills while the second checkpoint is being written: half a file, then
    ENOSPC. The run is marked failed with the reason, the first checkpoint is kept whole, no
    temp file is left, `deepworks runs` shows it; once there is space, resume ends where an
    uninterrupted run ends."""
    import errno

    raw = tiny_config("iris", epochs=3, checkpoint_budget=1.0) | {"name": "full"}
    whole = deepworks.run(raw, runs_dir=tmp_path / "whole", progress=False)
    real_write, calls = Path.write_bytes, []

    def filling_disk(path, data):
        if path.name.startswith(".tmp-last.pt"):
            calls.append(path)
            if len(calls) == 2:
                real_write(path, b"half a checkpoint")
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    runs = tmp_path / "runs"
    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_bytes", filling_disk)
        config = tmp_path / "full.yaml"
        config.write_text(json.dumps(raw))
        result = cli("run", config, "--runs-dir", runs)
    assert_user_error(result, "disk", "is full", "deepworks resume")  # after epoch lines
    (folder,) = [p for p in runs.iterdir() if p.is_dir() and p.name != ".cache"]
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "failed" and "No space left on device" in info["reason"]
    kept = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert len(kept["state"]["history"]) == 1  # the first epoch's checkpoint, whole
    assert not list(folder.rglob(".tmp-*"))
    listing = cli("runs", "--runs-dir", runs)
    assert listing.code == 0 and "failed" in listing.out

    resumed = cli("resume", folder.name, "--runs-dir", runs, "-q")
    assert resumed.code == 0, resumed.err
    a = load_file(whole.path / "model.safetensors")
    b = load_file(folder / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((folder / "run.json").read_text())["status"] == "completed"


def test_run_files_are_readable_by_others_and_killed_writes_leave_nothing(tmp_path):
    import os
    import stat

    from deepworks.train.checkpoint import TEMP_PREFIX, remove_stale_temps

    raw = tiny_config("iris", epochs=1, checkpoint_budget=1.0)  # a checkpoint to read
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    mask = os.umask(0)
    os.umask(mask)
    for name in ("model.safetensors", "config.yaml", "run.json", "checkpoints/last.pt"):
        mode = stat.S_IMODE((run.path / name).stat().st_mode)
        assert mode == 0o666 & ~mask, (name, oct(mode))
    stale = run.path / "checkpoints" / f"{TEMP_PREFIX}last.pt.x1y2"
    stale.write_bytes(b"half a checkpoint")
    remove_stale_temps(run.path)
    assert not stale.exists() and (run.path / "checkpoints" / "last.pt").exists()


def test_an_export_killed_halfway_leaves_the_previous_one_whole_and_servable(
    price_run, monkeypatch
):
    from deepworks.deploy import build_card
    from deepworks.deploy.export import FORMATS
    from deepworks.deploy.server import load_for_serving

    build_card(price_run, ["onnx"], False, None, 1)
    onnx = price_run.path / "export" / "model.onnx"
    before = onnx.read_bytes()

    def killed_midway(model, example, path, axes):
        path.write_bytes(b"\x08\x01")  # the start of a file, then the process dies
        raise Killed

    entry = FORMATS.entry("onnx")
    monkeypatch.setattr(entry.obj, "export", killed_midway)
    with pytest.raises(Killed):
        build_card(price_run, ["onnx"], False, None, 1)
    assert onnx.read_bytes() == before  # the previous export, whole
    assert not list(onnx.parent.glob(".tmp-*"))  # and no half-written file beside it
    served, runtime = load_for_serving(price_run.path, price_run.path.parent)
    rows = pd.DataFrame([{"size": 10.0, "weight": 5.0, "colour": "red", "kind": "big"}])
    assert "onnxruntime" in runtime and len(served.predict(rows)) == 1
