"""The sweep of bad inputs and hostile states: each gets one `error:` line naming what is wrong
and exit status 2, no traceback, and leaves what was there before untouched. New kinds of data
add their cases here."""

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import deepworks
from deepworks.train.trainer import Trainer
from tests.conftest import Killed, assert_user_error, tiny_config


def _table(path: Path, n: int = 120, changes: dict | None = None) -> Path:
    """A small regression / classification table: two numeric columns and a category."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 2, n),
            "weight": rng.normal(5, 1, n),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    frame["price"] = 3 * frame["size"] + frame["weight"] + rng.normal(0, 0.1, n)
    frame["kind"] = np.where(frame["size"] > 10, "big", "small")
    for (row, column), value in (changes or {}).items():
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return path


def _config(tmp_path: Path, data: Path, target: str = "price") -> Path:
    config = tmp_path / f"{data.stem}.yaml"
    config.write_text(
        f"data: {{dataset: csv, path: {data}, target: {target}, batch_size: 32}}\n"
        "model: {name: mlp, hidden: [16]}\n"
        "train: {epochs: 2}\n"
        "evaluate: {baselines: false, explain: 0}\n"
    )
    return config


@pytest.fixture(scope="module")
def price_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("price")
    data = _table(folder / "prices.csv")
    raw = {
        "name": "prices",
        "data": {"dataset": "csv", "path": str(data), "target": "price", "batch_size": 32},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.01}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    return deepworks.run(raw, runs_dir=folder / "runs", progress=False)


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# ------------------------------------------------------------------ training inputs

TRAINING_CASES = {
    "inf in a feature": ({(4, "size"): "inf"}, "price", ["`size`", "row 5", "infinite"]),
    "-inf in a feature": ({(7, "weight"): "-inf"}, "price", ["`weight`", "row 8", "infinite"]),
    "inf in a regression target": ({(2, "price"): "inf"}, "price", ["`price`", "infinite"]),
    "text in a numeric column": ({(3, "size"): "big"}, "price", ["`size`", "row 4", "'big'"]),
    "an empty target": ({(6, "kind"): None}, "kind", ["`kind`", "empty"]),
}


@pytest.mark.parametrize("case", TRAINING_CASES, ids=list(TRAINING_CASES))
def test_bad_training_data_is_one_clear_error(case, tmp_path, cli):
    changes, target, fragments = TRAINING_CASES[case]
    data = _table(tmp_path / "bad.csv", changes=changes)
    result = cli("run", _config(tmp_path, data, target), "--runs-dir", tmp_path / "runs")
    assert_user_error(result, str(data), *fragments)
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("threads", ["0", "-2"])
def test_a_thread_count_below_one_is_an_error_not_a_default(threads, tmp_path, cli):
    config = _config(tmp_path, _table(tmp_path / "ok.csv"))
    result = cli("run", config, "--threads", threads, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, f"--threads {threads}", "positive")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_values_from_the_user_are_never_read_as_markup(tmp_path, cli):
    config = tmp_path / "c.yaml"
    data = _table(tmp_path / "t.csv")
    config.write_text(
        f"data: {{dataset: csv, path: {data}, target: '[/bold]'}}\nmodel: {{name: mlp}}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "`[/bold]`")  # printed as given, not swallowed as a style


# ---------------------------------------------------------------- prediction inputs

PREDICTION_CASES = {
    "inf": ("inf", ["`size`", "row 1", "infinite"]),
    "a number that overflows": ("1e308", ["`size`", "row 1", "too large"]),
    "-inf": ("-inf", ["`size`", "row 1", "infinite"]),
    "text": ("heavy", ["`size`", "row 1", "'heavy'"]),
}


@pytest.mark.parametrize("case", PREDICTION_CASES, ids=list(PREDICTION_CASES))
def test_bad_prediction_rows_are_refused_not_answered(case, price_run, tmp_path, cli):
    value, fragments = PREDICTION_CASES[case]
    rows = tmp_path / "new.csv"
    rows.write_text(f"size,weight,colour,kind\n{value},5.0,red,big\n10.0,5.0,blue,small\n")
    before = _fingerprint(price_run.path)
    result = cli("predict", price_run.path, rows, "-o", tmp_path / "out.csv")
    assert_user_error(result, *fragments)
    assert not (tmp_path / "out.csv").exists()
    assert _fingerprint(price_run.path) == before
    with pytest.raises(deepworks.DeepworksError):  # and from Python alike
        price_run.predict(pd.read_csv(rows))


def test_evaluating_text_in_a_regression_target_is_an_error(price_run, tmp_path, cli):
    data = _table(tmp_path / "labelled.csv", changes={(1, "price"): "expensive"})
    before = _fingerprint(price_run.path)
    result = cli("evaluate", price_run.path, "--data", data)
    assert_user_error(result, str(data), "`price`")
    assert _fingerprint(price_run.path) == before


# ------------------------------------------------------------------- run folders


def test_a_run_name_resolves_exactly_never_by_its_end(tmp_path, cli):
    runs = tmp_path / "runs"
    iris = deepworks.run(tiny_config("iris", epochs=1) | {"name": "iris"}, runs_dir=runs)
    deepworks.run(
        tiny_config("diabetes", epochs=1) | {"name": "old-iris"}, runs_dir=runs, progress=False
    )  # newer, and its name ends with `iris`
    assert deepworks.load("iris", runs).path == iris.path
    assert deepworks.load("old-iris", runs).schema.task == "regression"
    assert_user_error(cli("evaluate", "iri", "--runs-dir", runs), "no run `iri`", "`iris`")


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
    assert_user_error(cli("runs", "show", broken, "--runs-dir", runs), "damaged", "run.json")
    for path in broken.iterdir():
        path.unlink()
    broken.rmdir()


def test_a_second_writer_is_refused_while_the_first_holds_the_run(price_run, tmp_path, cli):
    before = _fingerprint(price_run.path)
    with price_run.folder.lock():
        result = cli("export", price_run.path)
        assert_user_error(result, "being written by process", "wait for it")
    assert _fingerprint(price_run.path) == before


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path, monkeypatch):
    raw = tiny_config("iris", epochs=3) | {"name": "early"}
    whole = deepworks.run(raw, runs_dir=tmp_path / "whole", progress=False)

    def die_before_saving(self, *args):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_save", die_before_saving)
        with pytest.raises(Killed):
            deepworks.run(raw, runs_dir=tmp_path / "killed", progress=False)
    (folder,) = [p for p in (tmp_path / "killed").iterdir() if p.is_dir()]
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


def test_a_run_that_dies_of_any_error_is_marked_failed_with_the_reason(tmp_path, monkeypatch):
    def disk_full(self, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Trainer, "_save", disk_full)
    with pytest.raises(OSError):
        deepworks.run(tiny_config("iris", epochs=2), runs_dir=tmp_path / "runs", progress=False)
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "failed" and "No space left on device" in info["reason"]


# ------------------------------------------------------- more kinds of data, more places


def _bomb(path: Path, side: int = 30000) -> Path:
    """A PNG whose header claims side × side pixels in a file of well under a megabyte."""
    from PIL import Image

    Image.new("1", (side, side)).save(path, optimize=True)
    return path


def _image_folder(root: Path) -> Path:
    from PIL import Image

    for name, shade in (("dark", 30), ("light", 220)):
        (root / name).mkdir(parents=True)
        for i in range(12):
            Image.new("L", (8, 8), shade + i).save(root / name / f"{i}.png")
    return root


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, cli):
    root = _image_folder(tmp_path / "images")
    bomb = _bomb(root / "light" / "huge.png")
    assert bomb.stat().st_size < 1_000_000
    config = tmp_path / "images.yaml"
    config.write_text(
        f"data: {{dataset: image-folder, path: {root}, image_size: 8, channels: 1}}\n"
        "model: {name: cnn}\ntrain: {epochs: 1}\n"
    )
    assert_user_error(
        cli("run", config, "--runs-dir", tmp_path / "runs"),
        "huge.png",
        "30000×30000",
        "data.max_image_pixels",
    )
    bomb.unlink()
    run = cli("run", config, "--runs-dir", tmp_path / "runs", "-q", "--set", "evaluate.explain=0")
    assert run.code == 0, run.err
    folder = Path(run.last_line)
    before = _fingerprint(folder)
    _bomb(tmp_path / "new.png")
    result = cli("predict", folder, tmp_path / "new.png", "-o", tmp_path / "p.csv")
    assert_user_error(result, "new.png", "over the limit")
    assert _fingerprint(folder) == before


def test_a_wav_cut_mid_sample_is_named(tmp_path):
    import wave

    from deepworks.core.errors import DataError
    from deepworks.modalities.audio.encoder import read_wav

    path = tmp_path / "cut.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes(np.zeros(1600, dtype="<i2").tobytes())
    data = path.read_bytes()
    path.write_bytes(data[:-1])  # the last sample cut in half
    with pytest.raises(DataError, match=r"cut\.wav: the file is cut off"):
        read_wav(path, 16000)


def test_an_unwritable_output_path_is_an_error(price_run, tmp_path, cli):
    rows = tmp_path / "new.csv"
    rows.write_text("size,weight,colour,kind\n10.0,5.0,red,big\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("predict", price_run.path, rows, "-o", blocker / "out.csv")
    assert_user_error(result, "cannot write", "out.csv", "-o")


def test_a_language_model_on_too_few_texts_says_so(tmp_path, cli):
    data = tmp_path / "two.csv"
    data.write_text("text\nthe first text\nthe second text\n")
    config = tmp_path / "lm.yaml"
    config.write_text(
        f"task: language-model\ndata: {{dataset: csv, path: {data}, text: text}}\n"
        "model: {name: lstm}\n"
    )
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs"), "2 text(s)", "add")


def test_forecasting_a_table_of_classes_says_the_task_does_not_fit(tmp_path, cli):
    config = tmp_path / "iris-forecast.yaml"
    config.write_text("task: forecast\ndata: {dataset: iris}\nmodel: {name: mlp}\n")
    assert_user_error(
        cli("run", config, "--runs-dir", tmp_path / "runs"),
        "forecasting predicts numbers",
        "setosa",
    )


def test_a_seed_out_of_range_is_a_config_error(tmp_path, cli):
    config = tmp_path / "seed.yaml"
    config.write_text("seed: 1.2e29\ndata: {dataset: iris}\nmodel: {name: mlp}\n")
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs"), "`seed`")


def test_a_typo_in_the_main_metric_is_caught_before_training(tmp_path, cli):
    config = tmp_path / "typo.yaml"
    config.write_text(
        "data: {dataset: iris}\nmodel: {name: mlp}\nevaluate: {main_metric: accuracyy}\n"
    )
    result = cli("run", config, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "accuracyy", "Did you mean `accuracy`?")
    (folder,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert not (folder / "metrics.jsonl").exists()  # no epoch was trained


def test_run_files_are_readable_by_others_and_killed_writes_leave_nothing(tmp_path):
    import os
    import stat

    from deepworks.train.checkpoint import TEMP_PREFIX, remove_stale_temps

    run = deepworks.run(tiny_config("iris", epochs=1), runs_dir=tmp_path / "runs", progress=False)
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

    def killed_midway(model, example, path):
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
