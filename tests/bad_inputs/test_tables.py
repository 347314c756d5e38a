"""Bad tables to train on: spoiled cells, spoiled files, tables too small or of the wrong
shape. Each is one line naming the file, the column and (where there is one) the row."""

from pathlib import Path

import pytest

from tests.bad_inputs.helpers import refused, table, table_config

# name: (cells to spoil {(row, column): value}, the target, what the line names)
CELLS = {
    "inf in a feature": ({(4, "size"): "inf"}, "price", ["`size`", "row 5", "infinite"]),
    "-inf in a feature": ({(7, "weight"): "-inf"}, "price", ["`weight`", "row 8", "infinite"]),
    "a number that overflows": ({(2, "size"): "1e400"}, "price", ["`size`", "infinite"]),
    "inf in a regression target": ({(2, "price"): "inf"}, "price", ["`price`", "infinite"]),
    "text in a numeric column": ({(3, "size"): "big"}, "price", ["`size`", "row 4", "'big'"]),
    "text in a regression target": (
        {(5, "price"): "cheap"},
        "price",
        ["`price`", "row 6", "cheap"],
    ),
    "an empty classification target": ({(6, "kind"): None}, "kind", ["`kind`", "empty"]),
    "an empty regression target": ({(6, "price"): None}, "price", ["`price`", "empty"]),
}


@pytest.mark.parametrize("case", CELLS, ids=list(CELLS))
def test_a_spoiled_cell_is_named(case, tmp_path, cli):
    changes, target, fragments = CELLS[case]
    data = table(tmp_path / "bad.csv", changes=changes)
    result = cli("run", table_config(tmp_path, data, target), "--runs-dir", tmp_path / "runs")
    refused(result, str(data), *fragments)


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


GOOD_HEAD = "size,weight,colour,price\n"
ROWS = "".join(f"{i},{i % 7},red,{2 * i}\n" for i in range(60))
PRICES = "".join(f"{i}.5\n" for i in range(60))

# name: (file name, its content, the target, what the line names)
FILES = {
    "an empty file": ("empty.csv", b"", "price", ["empty"]),
    "a header and no rows": ("head.csv", GOOD_HEAD, "price", ["no rows"]),
    "a single row": ("one.csv", GOOD_HEAD + "1,2,red,3\n", "price", ["single class"]),
    "binary garbage": ("junk.csv", bytes(range(256)) * 20, "price", ["junk.csv"]),
    "not UTF-8": ("latin.csv", GOOD_HEAD.encode() + "1,2,r\xe9d,3\n".encode("latin-1") * 40,
                  "price", ["UTF-8"]),
    "rows longer than the header": ("ragged.csv", GOOD_HEAD + ROWS + "1,2,red,3,4,5\n",
                                    "price", ["ragged.csv", "line"]),
    "a target column that is not there": ("t.csv", GOOD_HEAD + ROWS, "prise", ["prise", "price"]),
    "no feature besides the target": ("only.csv", "price\n" + PRICES, "price",
                                      ["no feature columns"]),
    "one class only": ("same.csv", "size,kind\n" + "1,a\n" * 60, "kind",
                       ["`kind`", "single class"]),
    "duplicate column names": ("dup.csv", "size,size,price\n" + ROWS, "price",
                               ["two columns are named `size`"]),
    "a damaged parquet file": ("bad.parquet", b"PAR1 this is not parquet", "price",
                               ["bad.parquet"]),
    "a damaged JSON-lines file": ("bad.jsonl", '{"size": 1, "price": 2}\n{"size": \n', "price",
                                  ["bad.jsonl"]),
    "a spreadsheet": ("table.xlsx", b"PK\x03\x04", "price", ["table.xlsx", ".csv"]),
}  # fmt: skip


@pytest.mark.parametrize("case", FILES, ids=list(FILES))
def test_a_bad_table_file_is_named(case, tmp_path, cli):
    name, content, target, fragments = FILES[case]
    data = _write(tmp_path / name, content)
    result = cli("run", table_config(tmp_path, data, target), "--runs-dir", tmp_path / "runs")
    refused(result, *fragments)


def test_a_folder_given_as_the_table_is_named(tmp_path, cli):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    result = cli("run", table_config(tmp_path, folder), "--runs-dir", tmp_path / "runs")
    refused(result, str(folder))


def test_forecasting_a_table_of_classes_says_the_task_does_not_fit(tmp_path, cli):
    config = tmp_path / "iris-forecast.yaml"
    config.write_text("task: forecast\ndata: {dataset: iris}\nmodel: {name: mlp}\n")
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), "forecasting predicts numbers")


def test_a_series_too_short_for_its_window_says_so(tmp_path, cli):
    data = _write(tmp_path / "short.csv", "value\n" + "".join(f"{i}\n" for i in range(12)))
    config = tmp_path / "f.yaml"
    config.write_text(
        f"task: forecast\ndata: {{dataset: csv, path: '{data}', target: value, "
        "series: {window: 24}}\nmodel: {name: lstm}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), "short.csv", "12")


def test_ratings_without_numbers_are_named(tmp_path, cli):
    rows = "".join(f"u{i % 9},i{i % 13},{'great' if i == 5 else i % 5}\n" for i in range(200))
    data = _write(tmp_path / "ratings.csv", "user,item,rating\n" + rows)
    config = tmp_path / "r.yaml"
    config.write_text(
        f"task: recommendation\ndata: {{dataset: csv, path: '{data}', ratings: {{}}}}\n"
        "model: {name: ncf}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), "`rating`")
