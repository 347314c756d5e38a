"""Semantic segmentation: a U-Net (Ronneberger et al., 2015) sized by its widths, and
torchvision's LR-ASPP (MobileNetV3-Large) and DeepLabV3 (MobileNetV3-Large or ResNet-50);
each gives class scores per pixel (N, C, H, W)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from deepworks.core.errors import did_you_mean
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model


@dataclass
class UNetParams:
    widths: list[int] = field(default_factory=lambda: [16, 32, 64])  # channels per level
    dropout: float = 0.0  # at the bottom of the U


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(Model):
    """Down: double conv then 2×2 max-pool per level; up: transposed conv, the skip joined,
    double conv; a 1×1 conv to class scores. Sizes that do not halve evenly are padded."""

    def __init__(self, channels: int, classes: int, p: UNetParams) -> None:
        super().__init__()
        widths = p.widths
        self.down = nn.ModuleList()
        cin = channels
        for w in widths:
            self.down.append(_double_conv(cin, w))
            cin = w
        self.bottom = nn.Sequential(
            nn.MaxPool2d(2), _double_conv(cin, 2 * cin), nn.Dropout2d(p.dropout)
        )
        self.up, self.merge = nn.ModuleList(), nn.ModuleList()
        cin = 2 * cin
        for w in reversed(widths):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.merge.append(_double_conv(2 * w, w))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            x = up(x)
            x = nn.functional.pad(
                x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2])
            )
            x = merge(torch.cat([skip, x], dim=1))
        return self.head(x)


@dataclass
class LRASPPParams:
    weights_backbone: str | None = None  # a torchvision weights name, e.g. IMAGENET1K_V1


@dataclass
class DeepLabV3Params:
    backbone: Literal["mobilenet_v3_large", "resnet50"] = "mobilenet_v3_large"
    weights_backbone: str | None = None  # a torchvision weights name, e.g. IMAGENET1K_V1


class TorchvisionSegmenter(Model):
    """One of torchvision's segmentation networks; its class scores at the input's size."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["out"]


def _torchvision(builder: str, backbone: str, weights: str | None, classes: int) -> nn.Module:
    """``torchvision.models.segmentation.<builder>_<backbone>`` with new class scores and,
    by name, the backbone's pretrained weights."""
    from torchvision.models import get_model_weights
    from torchvision.models import segmentation as tv

    known = get_model_weights(backbone)
    if weights and weights not in known.__members__:
        names = list(known.__members__)
        raise ValueError(
            f"{backbone} has no weights `{weights}`.{did_you_mean(weights, names)} "
            f"Known: {', '.join(names)}"
        )
    backbone_weights = known[weights] if weights else None
    make = getattr(tv, f"{builder}_{backbone}")
    return TorchvisionSegmenter(make(num_classes=classes, weights_backbone=backbone_weights))


def _rgb(name: str, schema: Schema) -> None:
    if schema.input_shape[0] != 3:
        raise ValueError(f"{name} takes RGB images (3 channels)")


@register_model(
    "unet", UNetParams, ("scenes",), "U-Net for per-pixel classes", tasks=("segmentation",)
)
def unet(schema: Schema, p: UNetParams) -> nn.Module:
    return UNet(schema.input_shape[0], schema.n_outputs, p)


@register_model(
    "lraspp", LRASPPParams, ("scenes",), "LR-ASPP on MobileNetV3-Large (torchvision), RGB",
    tasks=("segmentation",),
)  # fmt: skip
def lraspp(schema: Schema, p: LRASPPParams) -> nn.Module:
    _rgb("lraspp", schema)
    return _torchvision("lraspp", "mobilenet_v3_large", p.weights_backbone, schema.n_outputs)


@register_model(
    "deeplabv3", DeepLabV3Params, ("scenes",),
    "DeepLabV3 (atrous spatial pyramid pooling) on MobileNetV3-Large or ResNet-50 "
    "(torchvision), RGB",
    tasks=("segmentation",),
)  # fmt: skip
def deeplabv3(schema: Schema, p: DeepLabV3Params) -> nn.Module:
    _rgb("deeplabv3", schema)
    return _torchvision("deeplabv3", p.backbone, p.weights_backbone, schema.n_outputs)
