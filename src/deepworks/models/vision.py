"""torchvision's classic architectures, adapted to the data: input channels, image size and
number of classes. Weights start random here (pretrained weights: the transfer-learning path).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm

from deepworks.data.schema import Schema
from deepworks.models.registry import register_model


@dataclass
class VisionParams:
    # Smaller inputs are upsampled to this size inside the model; None: the architecture's
    # own minimum (inception_v3 needs 75×75, the others 32×32).
    input_size: int | None = None


class VisionNet(nn.Module):
    """A torchvision network behind an input adapter that upsamples too-small images."""

    def __init__(self, net: nn.Module, min_size: int) -> None:
        super().__init__()
        self.net = net
        self.min_size = min_size

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
            new = nn.Conv2d(
                in_channels,
                module.out_channels,
                module.kernel_size,
                module.stride,
                module.padding,
                bias=module.bias is not None,
            )
            with torch.no_grad():
                mean = module.weight.mean(dim=1, keepdim=True)
                new.weight.copy_(mean.expand(-1, in_channels, -1, -1))
                if module.bias is not None:
                    new.bias.copy_(module.bias)
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], new)
            return


def _vision(builder, min_size: int, **kwargs):
    def factory(schema: Schema, p: VisionParams) -> nn.Module:
        net = builder(weights=None, num_classes=schema.n_outputs, **kwargs)
        replace_first_conv(net, schema.input_shape[0])
        return VisionNet(net, p.input_size or min_size)

    return factory


for _name, _builder, _min, _kw in [
    ("resnet18", tvm.resnet18, 32, {}),
    ("resnet50", tvm.resnet50, 32, {}),
    ("mobilenet_v2", tvm.mobilenet_v2, 32, {}),
    ("inception_v3", tvm.inception_v3, 75, {"aux_logits": False, "init_weights": True}),
]:
    register_model(
        _name, VisionParams, ("image",), f"torchvision {_name}", tasks=("classification",)
    )(_vision(_builder, _min, **_kw))
