"""Bad inputs to finished runs — rows, files and folders to predict on or evaluate with, run
ids, damaged or planted run files, options — each one line, and the run folder untouched."""

import pickle
import shutil

import pandas as pd
import pytest

import deepworks
from tests.bad_inputs.helpers import bomb, fingerprint, image_folder, refused, table, texts, wav
from tests.conftest import tiny_config

HEAD = "size,weight,colour,kind\n"
ROWS = {
    "inf": (HEAD + "inf,5.0,red,big\n10,5,blue,small\n", ["`size`", "row 1", "infinite"]),
    "a number that overflows": (HEAD + "1e308,5,red,big\n", ["`size`", "row 1", "too large"]),
    "-inf": (HEAD + "-inf,5,red,big\n", ["`size`", "row 1", "infinite"]),
    "text in a number": (HEAD + "heavy,5,red,big\n", ["`size`", "row 1", "'heavy'"]),
    "a missing column": ("size,colour\n10,red\n", ["`weight`"]),
    "a header and no rows": (HEAD, ["no rows"]),
    "an empty file": ("", ["empty"]),
}


@pytest.mark.parametrize("case", ROWS, ids=list(ROWS))
def test_bad_rows_to_predict_are_refused_not_answered(case, price_run, tmp_path, cli):
    content, fragments = ROWS[case]
    rows = tmp_path / "new.csv"
    rows.write_text(content)
    before = fingerprint(price_run.path)
    result = cli("predict", price_run.path, rows, "-o", tmp_path / "out.csv")
    refused(result, *fragments)
    assert not (tmp_path / "out.csv").exists()
    assert fingerprint(price_run.path) == before
    if content.count("\n") > 1:
        with pytest.raises(deepworks.DeepworksError):  # and from Python alike
            price_run.predict(pd.read_csv(rows))


def _good_rows(tmp_path):
    rows = tmp_path / "new.csv"
    rows.write_text(HEAD + "10.0,5.0,red,big\n")
    return rows


OUTPUTS = {
    "a folder that is a file": lambda tmp: (
        (tmp / "a-file").write_text("x") and tmp / "a-file/o.csv"
    ),
    "an existing folder": lambda tmp: (tmp / "folder").mkdir() or tmp / "folder",
}


@pytest.mark.parametrize("case", OUTPUTS, ids=list(OUTPUTS))
def test_an_unwritable_output_is_named(case, price_run, tmp_path, cli):
    output = OUTPUTS[case](tmp_path)
    result = cli("predict", price_run.path, _good_rows(tmp_path), "-o", output)
    refused(result, "-o")


EVALUATIONS = {
    "text in a regression target": ({(1, "price"): "expensive"}, ["`price`"]),
    "inf in the target": ({(1, "price"): "inf"}, ["`price`", "infinite"]),
}


@pytest.mark.parametrize("case", EVALUATIONS, ids=list(EVALUATIONS))
def test_bad_labelled_data_is_refused(case, price_run, tmp_path, cli):
    changes, fragments = EVALUATIONS[case]
    data = table(tmp_path / "labelled.csv", changes=changes)
    before = fingerprint(price_run.path)
    refused(cli("evaluate", price_run.path, "--data", data), str(data), *fragments)
    assert fingerprint(price_run.path) == before


def test_labelled_data_without_the_target_is_named(price_run, tmp_path, cli):
    data = tmp_path / "unlabelled.csv"
    data.write_text(HEAD + "10,5,red,big\n")
    refused(cli("evaluate", price_run.path, "--data", data), "`price`")


def test_labelled_data_that_does_not_exist_is_named(price_run, tmp_path, cli):
    refused(cli("evaluate", price_run.path, "--data", tmp_path / "no.csv"), "no.csv")


def test_a_prediction_file_that_does_not_exist_is_named(price_run, tmp_path, cli):
    refused(cli("predict", price_run.path, tmp_path / "no.csv"), "no.csv")


# ----------------------------------------------------------------------- run ids, options
def test_an_unknown_run_gets_did_you_mean(price_run, cli):
    runs = price_run.path.parent
    refused(cli("predict", "prices-x", "new.csv", "--runs-dir", runs), "no run `prices-x`")
    refused(cli("evaluate", "price", "--runs-dir", runs), "no run `price`", "`prices`")


COMMANDS = {
    "export to an unknown format": (["export", "{run}", "--format", "onnxx"], ["onnxx"]),
    "export with zero threads": (["export", "{run}", "--threads", "0"], ["--threads 0"]),
    "resume a completed run": (["resume", "{run}"], ["already completed"]),
    "serve with a header timeout of zero": (["serve", "{run}", "--header-timeout", "0"],
                                            ["--header-timeout"]),
    "serve with a body timeout below zero": (["serve", "{run}", "--body-timeout", "-1"],
                                             ["--body-timeout"]),
    "an option that does not exist": (["predict", "{run}", "x.csv", "--outptu", "o.csv"],
                                      ["--outptu"]),
    "a command that does not exist": (["predcit", "{run}"], ["predcit", "predict"]),
    "a thread count in words": (["predict", "{run}", "x.csv", "--threads", "two"],
                                ["--threads"]),
}  # fmt: skip


@pytest.mark.parametrize("case", COMMANDS, ids=list(COMMANDS))
def test_a_bad_command_line_is_one_clear_error(case, price_run, cli):
    args, fragments = COMMANDS[case]
    before = fingerprint(price_run.path)
    refused(cli(*[a.replace("{run}", str(price_run.path)) for a in args]), *fragments)
    assert fingerprint(price_run.path) == before


def _copy(run, tmp_path):
    copy = tmp_path / "runs" / run.path.name
    shutil.copytree(run.path, copy)
    return copy


class Planted:
    """Runs code if it is ever unpickled."""

    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('ran')",))


DAMAGE = {
    "a damaged model.json": ("model.json", b"{not json", ["model.json"]),
    "garbage weights": ("model.safetensors", b"\0" * 64, ["model.safetensors"]),
    "a pickle planted as weights": ("model.safetensors", pickle.dumps(Planted()),
                                    ["model.safetensors"]),
    "no weights at all": ("model.safetensors", None, ["no trained weights"]),
}  # fmt: skip


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_run_folder_is_named_and_nothing_runs(case, price_run, tmp_path, cli):
    name, content, fragments = DAMAGE[case]
    copy = _copy(price_run, tmp_path)
    if content is None:
        (copy / name).unlink()
    else:
        (copy / name).write_bytes(content)
    refused(cli("predict", copy, _good_rows(tmp_path), "-o", tmp_path / "o.csv"), *fragments)
    assert not (tmp_path / "PWNED").exists() and not (copy.parent / "PWNED").exists()


# ------------------------------------------------------------ images, texts and clips
@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    root = image_folder(folder / "images")
    raw = {
        "data": {"dataset": "image-folder", "path": str(root), "image_size": 8, "channels": 1},
        "model": {"name": "cnn"},
        "train": {"epochs": 1},
        "evaluate": {"baselines": False, "explain": 0},
    }
    return deepworks.run(raw, runs_dir=folder / "runs", progress=False)


def _spoiled_image(case, tmp_path):
    path = tmp_path / "new.png"
    if case == "a decompression bomb":
        return bomb(path)
    if case == "a text file named .png":
        path.write_text("not an image")
    elif case == "a zero-byte image":
        path.write_bytes(b"")
    elif case == "a table given to an image model":
        path = table(tmp_path / "rows.csv")
    return path


IMAGES = {
    "a decompression bomb": ["new.png", "over the limit"],
    "a text file named .png": ["new.png", "not a readable image"],
    "a zero-byte image": ["new.png"],
    "a table given to an image model": ["rows.csv"],
}


@pytest.mark.parametrize("case", IMAGES, ids=list(IMAGES))
def test_a_bad_image_to_predict_is_named(case, image_run, tmp_path, cli):
    before = fingerprint(image_run.path)
    path = _spoiled_image(case, tmp_path)
    refused(cli("predict", image_run.path, path, "-o", tmp_path / "p.csv"), *IMAGES[case])
    assert fingerprint(image_run.path) == before


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("texts")
    raw = tiny_config("csv", model="lstm", epochs=1)
    raw["data"].update(path=str(texts(folder / "r.csv")), text="review", target="label")
    raw["data"]["max_text_chars"] = 200
    raw["model"] = {"name": "lstm", "embed_dim": 8, "hidden": 8}
    raw["evaluate"] = {"baselines": False, "explain": 0}
    return deepworks.run(raw, runs_dir=folder / "runs", progress=False)


TEXTS = {
    "an empty text": ('review\nfine tea\n""\n', ["`review`", "empty"]),
    "a text over the run's limit": ("review\n" + "tea " * 100 + "\n", ["max_text_chars"]),
    "no text column": ("body\nfine tea\n", ["`review`"]),
}


@pytest.mark.parametrize("case", TEXTS, ids=list(TEXTS))
def test_a_bad_text_to_predict_is_named(case, text_run, tmp_path, cli):
    content, fragments = TEXTS[case]
    path = tmp_path / "new.csv"
    path.write_text(content)
    refused(cli("predict", text_run.path, path, "-o", tmp_path / "p.csv"), *fragments)


def test_a_bad_clip_to_predict_is_named(tmp_path, cli):
    from tests.bad_inputs.helpers import wav_folder

    root = wav_folder(tmp_path / "clips")
    raw = {
        "data": {"dataset": "audio-folder", "path": str(root)},
        "model": {"name": "cnn"},
        "train": {"epochs": 1},
        "evaluate": {"baselines": False, "explain": 0},
    }
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    cut = wav(tmp_path / "cut.wav")
    cut.write_bytes(cut.read_bytes()[:-1])
    refused(cli("predict", run.path, cut, "-o", tmp_path / "p.csv"), "cut.wav", "cut off")
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"RIFF not really")
    refused(cli("predict", run.path, noise, "-o", tmp_path / "p.csv"), "noise.wav")
