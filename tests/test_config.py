import json

import pytest
import yaml

from deepworks.catalog import load_config
from deepworks.config import ExperimentConfig
from deepworks.core.errors import ConfigError
from tests.conftest import EXAMPLES, assert_user_error, tiny_config


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    return str(info.value)


def test_every_example_is_a_valid_config():
    for path in EXAMPLES.glob("*.yaml"):
        assert isinstance(load_config(path), ExperimentConfig)


def test_typo_in_a_key_names_the_field_and_suggests_the_fix():
    raw = tiny_config()
    raw["train"]["epocs"] = 5
    message = _error(raw)
    assert "train.epocs" in message and "Did you mean `epochs`?" in message


def test_typo_in_a_nested_key():
    raw = tiny_config()
    raw["train"]["optimizer"]["learning_rate"] = 0.1
    assert "train.optimizer.learning_rate" in _error(raw)


def test_wrong_type_names_the_field():
    raw = tiny_config()
    raw["train"]["epochs"] = "ten"
    message = _error(raw)
    assert "train.epochs" in message and "'ten'" in message


def test_missing_section_is_named():
    assert "`model` is required" in _error({"data": {"dataset": "iris"}})


@pytest.mark.parametrize(
    ("section", "value", "suggestion"),
    [
        ("data.dataset", "digts", "digits"),
        ("model.name", "cnnn", "cnn"),
        ("train.optimizer.name", "adamm", "adam"),
        ("train.scheduler.name", "cosin", "cosine"),
    ],
)
def test_unknown_registry_names_suggest_the_closest(section, value, suggestion):
    raw = tiny_config()
    keys = section.split(".")
    node = raw
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    message = _error(raw)
    assert f"Did you mean `{suggestion}`?" in message


def test_unknown_model_parameter_suggests_the_closest():
    raw = tiny_config(dataset="digits", model="cnn")
    raw["model"]["chanels"] = [8]
    message = _error(raw)
    assert "no parameter `chanels`" in message and "Did you mean `channels`?" in message


def test_model_parameter_with_wrong_type():
    raw = tiny_config()
    raw["model"]["hidden"] = "wide"
    assert "model `mlp` parameter `hidden`" in _error(raw)


def test_split_that_leaves_no_training_data():
    raw = tiny_config()
    raw["data"]["split"] = {"valid": 0.5, "test": 0.45}
    assert "too little to train" in _error(raw)


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  dataset: iris\n model: [\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(path)


def test_overrides_apply_yaml_values():
    cfg = load_config(tiny_config(), ["train.epochs=7", "model.hidden=[4, 4]"])
    assert cfg.train.epochs == 7 and cfg.model.params["hidden"] == [4, 4]


def test_cli_config_typo_is_one_clear_line(cli, tmp_path):
    raw = tiny_config()
    raw["train"]["epocs"] = 5
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = cli("run", path, "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "Did you mean `epochs`?", str(path))
    assert not (tmp_path / "runs").exists()  # nothing started, nothing half-written


def test_cli_missing_config_file(cli, tmp_path):
    assert_user_error(cli("run", tmp_path / "nope.yaml"), "does not exist")


def test_schema_command_prints_json_schema(cli):
    result = cli("schema")
    schema = json.loads(result.out)
    assert result.code == 0
    assert {"data", "model", "train", "evaluate"} <= set(schema["properties"])
