"""Scene models on EfficientNet-Lite0 start from the ImageNet weights that ship offline: the
U-Net's encoder and FCOS's backbone."""

import pytest
import torch

import deepworks
from deepworks.catalog import load_config
from deepworks.core.errors import ModelError
from deepworks.core.schema import Schema
from deepworks.models import build_model
from deepworks.tasks import load_data
from tests.scene_files import CLASSES


def _shipped(key: str) -> torch.Tensor:
    from deepworks.models.vision import _efficientnet_lite0_weights

    return _efficientnet_lite0_weights()[key]


def _rgb(task: str, target: str, size: int = 48) -> Schema:
    classes = ["bg", *CLASSES] if task == "segmentation" else list(CLASSES)
    return Schema("scenes", task, (3, size, size), target, classes=classes)


def test_a_unet_on_efficientnet_lite0_starts_from_imagenet_and_scores_every_pixel():
    schema = _rgb("segmentation", "mask")
    torch.manual_seed(0)
    model = build_model("unet", {"encoder": "efficientnet_lite0", "pretrained": "imagenet"}, schema)
    block = model.encoder.blocks[3]._depthwise_conv.weight
    assert torch.equal(block, _shipped("_blocks.3._depthwise_conv.weight"))
    x, y = torch.randn(2, 3, 48, 48), torch.randint(0, len(CLASSES) + 1, (2, 48, 48))
    scores = model(x)
    assert scores.shape == (2, len(CLASSES) + 1, 48, 48)
    torch.nn.functional.cross_entropy(scores, y).backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(block, _shipped("_blocks.3._depthwise_conv.weight"))

    gray = Schema("scenes", "segmentation", (1, 45, 45), "mask", classes=["bg", *CLASSES])
    odd = build_model("unet", {"encoder": "efficientnet_lite0"}, gray)  # sizes that do not halve
    assert odd(torch.randn(1, 1, 45, 45)).shape == (1, len(CLASSES) + 1, 45, 45)
    with pytest.raises(ModelError, match="need `encoder: efficientnet_lite0`"):
        build_model("unet", {"pretrained": "imagenet"}, schema)


def test_fcos_on_efficientnet_lite0_starts_from_imagenet_and_detects():
    schema = _rgb("detection", "boxes", size=64)
    torch.manual_seed(0)
    params = {"backbone": "efficientnet_lite0", "weights": "imagenet", "features": 32}
    model = build_model("fcos", params, schema)
    stem = model.fcos.backbone.encoder.stem[0].weight
    assert torch.equal(stem, _shipped("_conv_stem.weight"))
    targets = [
        {"boxes": torch.tensor([[8.0, 8.0, 30.0, 34.0]]), "labels": torch.tensor([0])},
        {"boxes": torch.tensor([[20.0, 10.0, 50.0, 40.0]]), "labels": torch.tensor([1])},
    ]
    losses = model.train()(torch.randn(2, 3, 64, 64), targets)["losses"]
    assert set(losses) == {"classification", "bbox_regression", "bbox_ctrness"}
    sum(losses.values()).backward()
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    detections = model.eval()(torch.randn(2, 3, 64, 64))["detections"]
    assert len(detections) == 2 and {"boxes", "scores", "labels"} <= set(detections[0])


def test_a_saved_lite_unet_run_loads_without_the_imagenet_weights(tmp_path, monkeypatch):
    raw = {
        "task": "segmentation",
        "data": {"dataset": "digit-scenes", "batch_size": 16, "limit": 60},
        "model": {"name": "unet", "encoder": "efficientnet_lite0", "pretrained": "imagenet"},
        "train": {"epochs": 1, "optimizer": {"name": "adamw", "lr": 0.002}},
        "evaluate": {"explain": 0, "baselines": False},
    }
    run = deepworks.run(raw, runs_dir=tmp_path, threads=1, progress=False)
    from deepworks.models import vision

    def unavailable():
        raise AssertionError("a saved run must not read the pretrained weights again")

    monkeypatch.setattr(vision, "_efficientnet_lite0_weights", unavailable)
    monkeypatch.setattr("deepworks.models.lite_encoder._efficientnet_lite0_weights", unavailable)
    again = deepworks.load(run.path)

    images = load_data(load_config(run.folder.config).data, "segmentation", 0).test.x[:4]
    with torch.inference_mode():
        assert torch.equal(run.model.eval()(images), again.model.eval()(images))


def test_ssdlite_trains_exports_with_parity_and_explains(tmp_path, cli):
    import json

    from deepworks.deploy.export import ExportedModel

    raw = {
        "task": "detection",
        "data": {"dataset": "digit-scenes", "batch_size": 16, "limit": 60},
        "model": {"name": "ssdlite", "input_size": 128, "score_threshold": 0.01},
        "train": {"epochs": 2, "optimizer": {"name": "adamw", "lr": 0.002}},
        "evaluate": {"explain": 1, "baselines": False},
    }
    run = deepworks.run(raw, runs_dir=tmp_path, threads=1, progress=False)
    first, second = (r["train_loss"] for r in run.history())
    assert second < 0.9 * first  # SSD's matched boxes and hard negatives are being learned
    assert len(list((run.path / "explanations").glob("*.png"))) >= 1  # Grad-CAM on a box
    exported = cli("export", run.path, "--threads", "1", "--no-int8")
    assert exported.code == 0, exported.err
    card = json.loads((run.path / "deployment.json").read_text())
    assert next(r for r in card["rows"] if r["format"] == "onnx")["parity"] < 1e-4
    scenes_x = load_data(load_config(run.folder.config).data, "detection", 0).test.x[:4]
    decoded = run.model.around_exported(ExportedModel(run.path / "export" / "model.onnx"))
    with torch.inference_mode():
        found = decoded(scenes_x)["detections"]
    boxes = torch.cat([d["boxes"] for d in found])
    assert len(boxes) > 0 and boxes.min() >= 0 and boxes.max() <= 96 + 1e-3  # the image's pixels
    with pytest.raises(ModelError, match="takes RGB images"):
        gray = Schema("scenes", "detection", (1, 64, 64), "boxes", classes=list(CLASSES))
        build_model("ssdlite", {}, gray)
