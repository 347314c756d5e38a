"""Object detectors: torchvision's FCOS (anchor-free, one box per feature-map cell, focal and
GIoU losses) on a backbone sized for the scenes.

``backbone: tiny`` is a from-scratch ConvNet that suits 2 CPU cores: a stride-8 path for
context added onto a stride-4 map (small objects keep 4-pixel cells). ``backbone:
efficientnet_lite0`` is EfficientNet-Lite0 with torchvision's FPN over its stride-4, 8 and 16
features, read at stride 4 as the tiny one is; ``weights: imagenet`` starts it from the
ImageNet weights that ship offline (or a ``.pth`` file). ``backbone: mobilenet_v3`` is
torchvision's MobileNetV3-Large with an FPN, its ImageNet weights when ``weights`` names them
(downloaded once by torchvision) or a ``.pth`` file holds them.

The wrapper runs torchvision's own pieces (backbone, head, anchors, loss, post-processing) on
images as the encoder made them (normalized, at the run's size: torchvision's resizing
transform is not needed), so one call gives the losses *and* the detections: validation
reports a loss like every other task. The dense part (backbone + head: images → one tensor)
is what `deepworks export` writes; decoding boxes and NMS stay in Python around it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model


@dataclass
class DetectorParams:
    backbone: str = "tiny"  # tiny | efficientnet_lite0 | mobilenet_v3
    width: int = 32  # tiny: channels of the first stage (doubled per stage)
    features: int = 64  # channels the head sees
    head_convs: int = 2  # conv layers in each head branch
    # efficientnet_lite0: `imagenet` (shipped) or a .pth file; mobilenet_v3: a torchvision
    # weights name or a .pth file
    weights: str | None = None
    score_threshold: float = 0.05  # detections below are dropped
    nms_threshold: float = 0.5
    max_detections: int = 50  # per image


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class TinyBackbone(nn.Module):
    """Stride-4 features with stride-8 context: objects 10–60 pixels tall in small scenes."""

    def __init__(self, channels: int, width: int, features: int) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(_block(channels, w, 2), _block(w, w))
        self.s4 = nn.Sequential(_block(w, 2 * w, 2), _block(2 * w, 2 * w))
        self.s8 = nn.Sequential(_block(2 * w, 4 * w, 2), _block(4 * w, 4 * w), _block(4 * w, 4 * w))
        self.lateral4 = nn.Conv2d(2 * w, features, 1)
        self.lateral8 = nn.Conv2d(4 * w, features, 1)
        self.smooth = _block(features, features)
        self.out_channels = features

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        c4 = self.s4(self.stem(x))
        c8 = self.s8(c4)
        up = nn.functional.interpolate(self.lateral8(c8), size=c4.shape[-2:], mode="nearest")
        return OrderedDict([("0", self.smooth(self.lateral4(c4) + up))])


class LiteFPN(nn.Module):
    """EfficientNet-Lite0's stride-4, 8 and 16 features joined top-down by torchvision's FPN,
    given at stride 4: the finest map, with the deeper levels' context added in."""

    def __init__(self, channels: int, size: int, weights: str | None, features: int) -> None:
        from torchvision.ops import FeaturePyramidNetwork

        from deepworks.models.lite_encoder import LiteEncoder

        super().__init__()
        self.encoder = LiteEncoder(channels, size, weights, levels=4)
        self.fpn = FeaturePyramidNetwork(self.encoder.channels[1:4], features)
        self.out_channels = features

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        levels = self.encoder(x)[1:4]
        pyramid = self.fpn(OrderedDict((str(i), f) for i, f in enumerate(levels)))
        return OrderedDict([("0", pyramid["0"])])


class Detector(Model):
    """FCOS whose forward takes (images, targets) and returns ``losses`` when targets are
    given and ``detections`` (boxes, scores, labels per image) when not training."""

    def __init__(self, schema: Schema, p: DetectorParams) -> None:
        from torchvision.models.detection import FCOS
        from torchvision.models.detection.anchor_utils import AnchorGenerator

        super().__init__()
        backbone, sizes = self._backbone(schema.input_shape, p)
        self.fcos = FCOS(  # its resizing transform goes unused: `decode` takes the images as is
            backbone,
            num_classes=len(schema.classes or []),
            anchor_generator=AnchorGenerator(sizes, ((1.0,),) * len(sizes)),
            score_thresh=p.score_threshold,
            nms_thresh=p.nms_threshold,
            detections_per_img=p.max_detections,
            topk_candidates=200,
        )
        self.fcos.head.classification_head.conv = self._trim(
            self.fcos.head.classification_head.conv, p.head_convs
        )
        self.fcos.head.regression_head.conv = self._trim(
            self.fcos.head.regression_head.conv, p.head_convs
        )
        self._grid_sizes: dict[tuple[int, ...], list[tuple[int, int]]] = {}

    @staticmethod
    def _backbone(shape: tuple[int, ...], p: DetectorParams) -> tuple[nn.Module, tuple]:
        channels = shape[0]
        if p.backbone in ("tiny", "efficientnet_lite0") and p.features % 32:
            raise ValueError("`features` must be a multiple of 32 (the head's GroupNorm)")
        if p.backbone == "tiny":
            return TinyBackbone(channels, p.width, p.features), ((16,),)
        if p.backbone == "efficientnet_lite0":
            return LiteFPN(channels, max(shape[1:]), p.weights, p.features), ((16,),)
        if p.backbone == "mobilenet_v3":
            return _mobilenet_fpn(channels, p.weights), ((32,), (64,), (128,))
        raise ValueError(
            f"backbone `{p.backbone}` is not one of: tiny, efficientnet_lite0, mobilenet_v3"
        )

    @staticmethod
    def _trim(convs: nn.Sequential, n: int) -> nn.Sequential:
        """The head's first ``n`` conv → GroupNorm → ReLU groups (torchvision builds four)."""
        return nn.Sequential(*list(convs)[: 3 * n])

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None) -> dict[str, Any]:
        return self.decode(images, self.exported_part()(images), targets)

    def class_evidence(self, images: torch.Tensor) -> torch.Tensor:
        """(N, classes): each class's strongest logit anywhere in the image, what Grad-CAM
        explains (the top detection's class, by what made its evidence strongest)."""
        return self.exported_part()(images)[
            ..., : self.fcos.head.classification_head.num_classes
        ].amax(dim=1)

    def cam_layer(self) -> nn.Module:
        # the backbone's last convolution: the heads' last ones see no class gradient
        return [m for m in self.fcos.backbone.modules() if isinstance(m, nn.Conv2d)][-1]

    def exported_part(self) -> nn.Module:
        # in the detector's mode: a new module trains by default, and an exporter that
        # restores the mode it found would put the shared layers back into training
        return DenseHead(self.fcos.backbone, self.fcos.head).train(self.training)

    def around_exported(self, runtime: nn.Module) -> nn.Module:
        return Decoded(self, runtime)

    def decode(
        self, images: torch.Tensor, dense: torch.Tensor, targets: list[dict] | None = None
    ) -> dict[str, Any]:
        """The dense outputs (N, locations, classes + 4 + 1) → ``losses`` against
        ``targets`` when given, and ``detections`` when not training."""
        from torchvision.models.detection.image_list import ImageList

        fcos, n = self.fcos, len(images)
        classes = dense.shape[-1] - 5
        head = {
            "cls_logits": dense[..., :classes],
            "bbox_regression": dense[..., classes : classes + 4],
            "bbox_ctrness": dense[..., classes + 4 :],
        }
        batch = ImageList(images, [tuple(images.shape[-2:])] * n)
        grids = self._grids(tuple(images.shape[1:]))  # the anchors need only the map sizes
        maps = [images.new_empty((n, 0, h, w)) for h, w in grids]
        anchors = fcos.anchor_generator(batch, maps)
        per_level = [h * w for h, w in grids]
        out: dict[str, Any] = {}
        if targets is not None:
            out["losses"] = fcos.compute_loss(targets, head, anchors, per_level)
        if not self.training:
            split = {k: list(v.split(per_level, dim=1)) for k, v in head.items()}
            levels = [list(a.split(per_level)) for a in anchors]
            out["detections"] = fcos.postprocess_detections(split, levels, batch.image_sizes)
        return out

    def _grids(self, shape: tuple[int, ...]) -> list[tuple[int, int]]:
        """The backbone's feature-map sizes for images of ``shape`` (measured once)."""
        if shape not in self._grid_sizes:
            self._grid_sizes[shape] = feature_map_sizes(self.fcos.backbone, shape)
        return self._grid_sizes[shape]


def feature_map_sizes(backbone: nn.Module, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """The (height, width) of each feature map ``backbone`` gives for one image of ``shape``:
    what anchors and default boxes need, measured without touching batch-norm statistics."""
    with torch.no_grad():
        probe = torch.zeros(1, *shape, device=next(backbone.parameters()).device)
        was = backbone.training
        maps = backbone.eval()(probe).values()
        backbone.train(was)
    return [tuple(m.shape[-2:]) for m in maps]


class DenseHead(nn.Module):
    """What a detector exports: images → per location the class logits, the four box
    offsets and the centre-ness, in one tensor (N, locations, classes + 5)."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.head(list(self.backbone(images).values()))
        return torch.cat([out["cls_logits"], out["bbox_regression"], out["bbox_ctrness"]], 2)


class Decoded(nn.Module):
    """A detector whose dense part runs elsewhere (onnxruntime); decoding stays here."""

    def __init__(self, detector: Detector, runtime: nn.Module) -> None:
        super().__init__()
        self.detector, self.runtime = detector.eval(), runtime

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None) -> dict[str, Any]:
        return self.detector.decode(images, self.runtime(images), targets)


def _mobilenet_fpn(channels: int, weights: str | None) -> nn.Module:
    """MobileNetV3-Large features with an FPN; ImageNet weights by torchvision name (fetched
    once) or from a ``.pth`` state dict of ``mobilenet_v3_large``."""
    from pathlib import Path

    from torchvision.models import get_weight, mobilenet_v3_large
    from torchvision.models.detection.backbone_utils import _mobilenet_extractor

    if channels != 3:
        raise ValueError("the mobilenet_v3 backbone takes RGB images (3 channels)")
    named = weights and Path(weights).suffix != ".pth"
    net = mobilenet_v3_large(weights=get_weight(weights) if named else None)
    if weights and not named:
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return _mobilenet_extractor(net, True, trainable_layers=6)


@register_model(
    "fcos",
    DetectorParams,
    ("scenes",),
    "FCOS object detector (torchvision), tiny from-scratch or MobileNetV3 backbone",
    tasks=("detection",),
)
def fcos(schema: Schema, p: DetectorParams) -> nn.Module:
    return Detector(schema, p)
