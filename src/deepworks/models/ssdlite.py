"""SSDlite (SSD with depthwise-separable heads, Sandler et al., 2018) on MobileNetV3-Large:
torchvision's detector for phones and small boards.

Images are resized to ``input_size`` inside the model (SSDlite's maps start at stride 16, so
small scenes are enlarged) and boxes mapped back to the image's pixels. As for FCOS, the
wrapper runs torchvision's own pieces — backbone, head, default boxes, matcher, loss and
post-processing — so one call gives the losses and the detections, and the dense part
(resize + backbone + head: images → one tensor) is what `deepworks export` writes, decoding
and NMS staying in Python around it. Class 0 is SSD's background; labels are shifted in and
out, so the task sees its class indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.detector import Decoded, feature_map_sizes
from deepworks.models.registry import register_model


@dataclass
class SSDliteParams:
    input_size: int = 192  # images are resized to this square before the backbone
    weights_backbone: str | None = None  # MobileNetV3-Large's torchvision weights (download)
    score_threshold: float = 0.05  # detections below are dropped
    nms_threshold: float = 0.55
    max_detections: int = 50  # per image


class SSDlite(Model):
    def __init__(self, schema: Schema, p: SSDliteParams) -> None:
        from torchvision.models import get_weight
        from torchvision.models.detection import ssdlite320_mobilenet_v3_large

        super().__init__()
        if schema.input_shape[0] != 3:
            raise ValueError("ssdlite takes RGB images (3 channels)")
        self.net = ssdlite320_mobilenet_v3_large(
            num_classes=len(schema.classes or []) + 1,  # and the background
            weights_backbone=get_weight(p.weights_backbone) if p.weights_backbone else None,
            score_thresh=p.score_threshold,
            nms_thresh=p.nms_threshold,
            detections_per_img=p.max_detections,
            topk_candidates=200,
        )
        self.size = p.input_size
        self._grid_sizes: list[tuple[int, int]] | None = None

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None) -> dict[str, Any]:
        return self.decode(images, self.exported_part()(images), targets)

    def exported_part(self) -> nn.Module:
        return DenseSSD(self.net.backbone, self.net.head, self.size).train(self.training)

    def around_exported(self, runtime: nn.Module) -> nn.Module:
        return Decoded(self, runtime)

    def cam_layer(self) -> nn.Module:
        return [m for m in self.net.backbone.modules() if isinstance(m, nn.Conv2d)][-1]

    def class_evidence(self, images: torch.Tensor) -> torch.Tensor:
        """(N, classes): each class's highest probability over the default boxes."""
        logits = self.exported_part()(images)[..., 4:]
        return logits.softmax(-1)[..., 1:].amax(dim=1)

    def decode(
        self, images: torch.Tensor, dense: torch.Tensor, targets: list[dict] | None = None
    ) -> dict[str, Any]:
        """Dense outputs (N, default boxes, 4 + 1 + classes) → ``losses`` against ``targets``
        when given, and ``detections`` in the images' pixels when not training."""
        from torchvision.models.detection.image_list import ImageList
        from torchvision.ops import box_iou

        net, n = self.net, len(images)
        head = {"bbox_regression": dense[..., :4], "cls_logits": dense[..., 4:]}
        square = (self.size, self.size)
        batch = ImageList(images.new_empty((n, 0, *square)), [square] * n)
        maps = [images.new_empty((n, 0, h, w)) for h, w in self._grids(images)]
        anchors = net.anchor_generator(batch, maps)  # only the sizes are read
        height, width = images.shape[-2:]
        scale = images.new_tensor([self.size / width, self.size / height] * 2)
        out: dict[str, Any] = {}
        if targets is not None:
            resized = [{"boxes": t["boxes"] * scale, "labels": t["labels"] + 1} for t in targets]
            matched = [
                net.proposal_matcher(box_iou(t["boxes"], a))
                if len(t["boxes"])
                else torch.full((len(a),), -1, dtype=torch.int64, device=a.device)
                for t, a in zip(resized, anchors, strict=True)
            ]
            out["losses"] = net.compute_loss(resized, head, anchors, matched)
        if not self.training:
            found = net.postprocess_detections(head, anchors, batch.image_sizes)
            out["detections"] = [
                {"boxes": d["boxes"] / scale, "scores": d["scores"], "labels": d["labels"] - 1}
                for d in found
            ]
        return out

    def _grids(self, images: torch.Tensor) -> list[tuple[int, int]]:
        """The feature-map sizes at ``input_size`` (measured once)."""
        if self._grid_sizes is None:
            square = (images.shape[1], self.size, self.size)
            self._grid_sizes = feature_map_sizes(self.net.backbone, square)
        return self._grid_sizes


class DenseSSD(nn.Module):
    """What SSDlite exports: images → resized → per default box its four offsets and the
    class logits (background first), in one tensor (N, boxes, 4 + 1 + classes)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, size: int) -> None:
        super().__init__()
        self.backbone, self.head, self.size = backbone, head, size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(images, size=(self.size, self.size), mode="bilinear")
        out = self.head(list(self.backbone(x).values()))
        return torch.cat([out["bbox_regression"], out["cls_logits"]], dim=2)


@register_model(
    "ssdlite",
    SSDliteParams,
    ("scenes",),
    "SSDlite on MobileNetV3-Large (torchvision): a detector for small devices, RGB",
    tasks=("detection",),
)
def ssdlite(schema: Schema, p: SSDliteParams) -> nn.Module:
    return SSDlite(schema, p)
