"""Bad parallel data: each one line naming the file (and line) and how to fix it."""

import pandas as pd
import pytest

from tests.bad_inputs.helpers import refused


def _files(root, source: bytes, target: bytes):
    root.mkdir(parents=True, exist_ok=True)
    (root / "src.txt").write_bytes(source)
    (root / "tgt.txt").write_bytes(target)
    return f"{{dataset: text-pairs, path: '{root / 'src.txt'}', target_path: '{root / 'tgt.txt'}'}}"


CASES = {
    "counts differ": (
        lambda r: _files(r, b"one\ntwo\nthree\n", b"un\ndeux\n"),
        ["3 lines", "2", "line 3 of", "src.txt"],
    ),
    "an empty line": (lambda r: _files(r, b"one\n\nthree\n", b"un\ndeux\ntrois\n"),
                      ["src.txt line 2 is empty"]),
    "bytes that are not UTF-8": (
        lambda r: _files(r, b"one\ntwo\n", b"un\nd\xe9ux\n"), ["tgt.txt line 2", "UTF-8"]
    ),
    "no target file": (lambda r: _files(r, b"one\n", b"un\n").replace("target_path", "x_path"),
                       ["x_path"]),
    "a source column that is not there": (
        lambda r: _table(r, "englsh"), ["no source column `englsh`", "english"]
    ),
    "an empty translation": (lambda r: _table(r, "english", empty=True), ["`french`", "empty"]),
}  # fmt: skip


def _table(root, source: str, empty: bool = False):
    root.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {"english": ["one", "two", "three"] * 5, "french": ["un", "deux", "trois"] * 5}
    )
    if empty:
        frame.loc[4, "french"] = ""
    frame.to_csv(root / "pairs.csv", index=False)
    return f"{{dataset: csv, path: '{root / 'pairs.csv'}', source: {source}, target: french}}"


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_parallel_data_is_named(case, tmp_path, cli):
    make, fragments = CASES[case]
    config = tmp_path / "run.yaml"
    config.write_text(
        f"task: translation\ndata: {make(tmp_path / 'data')}\n"
        "model: {name: rnn-attention, hidden: 8, embed: 8}\ntrain: {epochs: 1}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), *fragments)


def test_translate_refuses_a_run_that_does_not_translate(cli, price_run):
    refused(cli("translate", price_run.path, "--text", "hello"), "only translation runs")
