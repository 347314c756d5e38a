"""Semantic segmentation: a U-Net (Ronneberger et al., 2015) sized by its widths or on a
pretrained EfficientNet-Lite0 encoder, and torchvision's LR-ASPP (MobileNetV3-Large) and
DeepLabV3 (MobileNetV3-Large or ResNet-50); each gives class scores per pixel (N, C, H, W)."""

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
    # the down path: its own (`widths`), or EfficientNet-Lite0's blocks, whose levels then
    # set the widths (16, 24, 40, 112, 320 channels at strides 2 to 32)
    encoder: Literal["own", "efficientnet_lite0"] = "own"
    pretrained: str | None = None  # efficientnet_lite0: `imagenet` (shipped) or a .pth file


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
            x = merge(_joined(skip, up(x)))
        return self.head(x)


def _joined(skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x`` upsampled, padded to the skip's size (odd sizes do not halve evenly), and
    stacked after the skip's channels."""
    x = nn.functional.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))
    return torch.cat([skip, x], dim=1)


class EncoderUNet(Model):
    """A U-Net whose down path is a pretrained encoder (``LiteEncoder``): up from its deepest
    features, joining each finer level's, and last the image itself, so masks keep its
    pixel edges."""

    def __init__(self, channels: int, classes: int, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        widths = encoder.channels  # fine to coarse
        self.up, self.merge = nn.ModuleList(), nn.ModuleList()
        joins = [*reversed(widths[:-1]), channels]  # what each step up joins: a level, the image
        cin = widths[-1]
        for w, joined in zip([*reversed(widths[:-1]), widths[0]], joins, strict=True):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.merge.append(_double_conv(joined + w, w))
            cin = w
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *skips, y = self.encoder(x)
        for up, merge, skip in zip(self.up, self.merge, [*reversed(skips), x], strict=True):
            y = merge(_joined(skip, up(y)))
        return self.head(y)


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
    channels = schema.input_shape[0]
    if p.encoder == "own":
        if p.pretrained:
            raise ValueError("`pretrained` weights need `encoder: efficientnet_lite0`")
        return UNet(channels, schema.n_outputs, p)
    from deepworks.models.lite_encoder import LiteEncoder

    encoder = LiteEncoder(channels, max(schema.input_shape[1:]), p.pretrained)
    return EncoderUNet(channels, schema.n_outputs, encoder)


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
