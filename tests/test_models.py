"""Every registered model, tested without anyone remembering to add it here."""

import dataclasses

import pytest
import torch

from deepworks.core.errors import ModelError
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.core.task import has_tag
from deepworks.models import MODELS, build_model
from deepworks.tasks import TASKS  # noqa: F401  (registers the tasks)

IMAGE_SCHEMAS = {
    "gray-8x8": Schema("image", "classification", (1, 8, 8), "label", classes=list("0123456789")),
    "rgb-32x32": Schema("image", "classification", (3, 32, 32), "label", classes=["a", "b"]),
}
TABLE_SCHEMA = Schema("table", "regression", (7,), "y", target_scale=(0.0, 1.0))
TEXT_SCHEMA = Schema(
    "text",
    "classification",
    (12,),
    "label",
    classes=["neg", "pos"],
    encoder={"kind": "text", "vocab": ["<pad>", "<unk>", *[f"w{i}" for i in range(30)]]},
)

SERIES_SCHEMA = Schema(
    "series", "forecast", (16, 3), "v", encoder={"season": 4}, horizon=5, target_scale=(0.0, 1.0)
)
RATINGS_SCHEMA = Schema(
    "ratings",
    "recommendation",
    (2,),
    "rating",
    encoder={"users": ["u1", "u2"], "items": ["a", "b", "c"]},
    target_scale=(3.5, 1.0),
)
SCHEMAS = {"table": TABLE_SCHEMA, "text": TEXT_SCHEMA, "series": SERIES_SCHEMA}
SCHEMAS |= {"ratings": RATINGS_SCHEMA, **IMAGE_SCHEMAS}


def _inputs(schema: Schema, model: torch.nn.Module) -> torch.Tensor:
    if hasattr(model, "noise"):  # a generator draws from noise
        return model.noise(2)
    if schema.modality == "ratings":  # (user, item) index pairs
        return torch.tensor([[1, 3], [2, 1]])
    if schema.modality == "text":  # token ids, right-padded with 0, of different lengths
        x = torch.randint(1, 32, (2, *schema.input_shape))
        x[0, 5:] = 0
        return x
    return torch.randn(2, *schema.input_shape)


def _cases():
    for entry in MODELS:
        if "image" in entry.meta["modalities"]:
            for key in IMAGE_SCHEMAS:
                yield pytest.param(entry.name, key, id=f"{entry.name}-{key}")
        if "table" in entry.meta["modalities"]:
            yield pytest.param(entry.name, "table", id=f"{entry.name}-table")
        for modality in ("text", "series", "ratings"):
            if modality in entry.meta["modalities"]:
                yield pytest.param(entry.name, modality, id=f"{entry.name}-{modality}")


@pytest.mark.parametrize(("name", "schema_key"), list(_cases()))
def test_model_adapts_to_data_and_trains_one_step(name, schema_key):
    torch.manual_seed(0)
    schema = SCHEMAS[schema_key]
    tasks = MODELS.entry(name).meta["tasks"]
    if schema.task not in tasks:
        schema = dataclasses.replace(schema, task=tasks[0])
    model = build_model(name, {}, schema)
    assert isinstance(model, Model)  # the hooks the Trainer calls exist on every model
    out = model(_inputs(schema, model))
    if has_tag(schema.task, "supervised"):
        assert out.shape == (2, schema.n_outputs)
    elif schema.task == "recommendation":  # a rating and a pick logit per pair
        assert out.shape == (2, 2)
    else:  # reconstructions and generated images are shaped like the data
        assert out.shape == (2, *schema.input_shape)
    if not any(p.requires_grad for p in model.parameters()):
        return  # learns without gradients (som): its own tests cover the update
    before = [p.detach().clone() for p in model.parameters()]
    out.square().mean().backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_image_only_model_refuses_a_table_with_the_alternatives():
    with pytest.raises(ModelError, match="does not take table data; models that do: mlp"):
        build_model("cnn", {}, TABLE_SCHEMA)


def test_first_conv_keeps_pretrained_filters_averaged_for_grayscale():
    from torchvision.models import resnet18

    from deepworks.models.vision import replace_first_conv

    net = resnet18(weights=None)
    rgb = net.conv1.weight.detach().clone()
    replace_first_conv(net, 1)
    assert net.conv1.in_channels == 1
    assert torch.allclose(net.conv1.weight, rgb.mean(dim=1, keepdim=True))


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ModelError, match="Did you mean `relu`"):
        build_model("mlp", {"activation": "relu6x"}, TABLE_SCHEMA)


def test_a_run_keeps_the_defaults_chosen_for_its_data_so_new_defaults_never_break_it(
    tmp_path, monkeypatch
):
    """The MLP's batch norm and dropout are chosen by the kind of data when the config leaves
    them open; the run's model.json keeps the choice, so the run still loads after the
    defaults change."""
    import json

    import deepworks
    from deepworks.models import mlp
    from tests.conftest import tiny_config

    run = deepworks.run(
        tiny_config(epochs=1) | {"evaluate": {"baselines": False, "explain": 0}},
        runs_dir=tmp_path,
        progress=False,
    )
    params = json.loads((run.path / "model.json").read_text())["params"]
    assert params["batch_norm"] is True and params["dropout"] == 0.2  # the tabular recipe
    monkeypatch.setattr(mlp, "TABLE_DEFAULTS", {"batch_norm": False, "dropout": 0.5})
    again = deepworks.load(run.path)
    assert again.predict([[5.1, 3.5, 1.4, 0.2]]).shape[0] == 1
