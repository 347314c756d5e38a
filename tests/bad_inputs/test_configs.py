"""Bad configs and bad options: each is refused before any training, with one line naming the
field and the fix, and no run folder left behind."""

from pathlib import Path

import pytest

from tests.bad_inputs.helpers import refused, table

OK = (
    "data: {dataset: csv, path: '{data}', target: price}\n"
    "model: {name: mlp, hidden: [8]}\ntrain: {epochs: 1}\n"
)

# name: (the YAML, with {data} for a good table, or bytes; extra CLI args; what the line names)
CASES: dict[str, tuple[str | bytes, list[str], list[str]]] = {
    "yaml syntax error": ("data: {dataset: iris\nmodel: mlp\n", [], ["YAML"]),
    "an empty config": ("", [], ["empty"]),
    "a list, not a mapping": ("- data\n- model\n", [], ["mapping"]),
    "not UTF-8": (b"data: {dataset: \xff\xfe}\n", [], ["UTF-8"]),
    "a typo in a section": (OK + "trian: {epochs: 2}\n", [], ["trian", "train"]),
    "a typo in a key": (OK.replace("epochs", "epoch"), [], ["epoch"]),
    "an unknown dataset": ("data: {dataset: irsi}\nmodel: {name: mlp}\n", [], ["irsi", "iris"]),
    "an unknown model": ("data: {dataset: iris}\nmodel: {name: mpl}\n", [], ["mpl", "mlp"]),
    "an unknown model parameter": (
        "data: {dataset: iris}\nmodel: {name: mlp, hiden: [8]}\n",
        [],
        ["hiden", "hidden"],
    ),
    "a model parameter of the wrong type": (
        "data: {dataset: iris}\nmodel: {name: mlp, hidden: lots}\n",
        [],
        ["hidden"],
    ),
    "negative epochs": (OK.replace("epochs: 1", "epochs: -1"), [], ["epochs"]),
    "epochs in words": (OK.replace("epochs: 1", "epochs: ten"), [], ["epochs"]),
    "a learning rate of zero": (OK, ["--set", "train.optimizer.lr=0"], ["lr"]),
    "a batch size of zero": (OK, ["--set", "data.batch_size=0"], ["batch_size"]),
    "an unknown optimizer": (OK, ["--set", "train.optimizer.name=adamm"], ["adamm", "adam"]),
    "an unknown scheduler": (OK, ["--set", "train.scheduler.name=cosin"], ["cosin"]),
    "an unknown task": ("task: clasification\ndata: {dataset: iris}\n", [], ["clasification"]),
    "a model that cannot do the task": (
        "task: language-model\ndata: {dataset: iris}\nmodel: {name: mlp}\n",
        [],
        ["language-model"],
    ),
    "a seed out of range": ("seed: 1.2e29\n" + OK, [], ["`seed`"]),
    "a negative seed": ("seed: -5\n" + OK, [], ["seed"]),
    "a typo in the main metric": (OK, ["--set", "evaluate.main_metric=rmsee"], ["rmsee", "`rmse`"]),
    "a metric of another task": (
        OK,
        ["--set", "evaluate.main_metric=accuracy"],
        ["accuracy", "r2"],
    ),
    "a data file that does not exist": (
        OK.replace("{data}", "/no/such/table.csv"),
        [],
        ["/no/such/table.csv"],
    ),
    "a validation fraction over one": (OK, ["--set", "data.val_fraction=1.5"], ["val_fraction"]),
    "a test fraction of zero": (OK, ["--set", "data.test_fraction=0"], ["test_fraction"]),
    "a dropout over one": (OK, ["--set", "model.dropout=2.0"], ["dropout"]),
    "an unknown device": (OK, ["--set", "train.device=tpu"], ["device", "tpu"]),
    "a --set without a value": (OK, ["--set", "train.epochs"], ["train.epochs", "key.path=value"]),
    "a --set of an unknown key": (OK, ["--set", "train.epohcs=3"], ["epohcs"]),
    "zero threads": (OK, ["--threads", "0"], ["--threads 0", "positive"]),
    "negative threads": (OK, ["--threads", "-2"], ["--threads -2", "positive"]),
    "zero processes": (OK, ["--nproc", "0"], ["--nproc"]),
    "a target column that is not there": (
        OK.replace("target: price", "target: prise"),
        [],
        ["prise", "price"],
    ),
    "markup in a column name": (OK.replace("target: price", "target: '[/bold]'"), [], ["[/bold]"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_config_is_one_clear_error(case, tmp_path, cli):
    text, args, fragments = CASES[case]
    data = table(tmp_path / "t.csv")
    config = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        config.write_bytes(text)
    else:
        config.write_text(text.replace("{data}", str(data)))
    runs = tmp_path / "runs"
    refused(cli("run", config, *args, "--runs-dir", runs), *fragments)
    trained = [p for p in runs.glob("*/metrics.jsonl")] if runs.exists() else []
    assert not trained  # refused before the first epoch


@pytest.mark.parametrize(
    "where",
    ["a config that does not exist", "a folder given as the config"],
)
def test_a_config_path_that_is_not_a_file_is_named(where, tmp_path, cli):
    path = tmp_path / ("missing.yaml" if "exist" in where else "folder")
    if "folder" in where:
        path.mkdir()
    refused(cli("run", path, "--runs-dir", tmp_path / "runs"), str(path))


def test_an_unwritable_runs_folder_is_named(tmp_path, cli):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the runs folder should be")
    config = tmp_path / "c.yaml"
    config.write_text(OK.replace("{data}", str(table(tmp_path / "t.csv"))))
    refused(cli("run", config, "--runs-dir", blocker / "runs"), str(blocker))
    assert Path(blocker).read_text().startswith("a file")
