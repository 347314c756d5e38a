"""Two-stage detectors: torchvision's Faster R-CNN (a region proposal network, RoIAlign, a box
head) for detection and Mask R-CNN (the same with a mask head) for instance segmentation, on
the small from-scratch backbone of ``detector``, sized for CPUs.

torchvision's R-CNNs reserve class 0 for the background; the wrapper shifts labels in and out,
so the task sees class indices as every other task does. In evaluation it gives the
detections (with Mask R-CNN, one mask per box: pixels whose mask probability is over one half)
and, when targets are given, the losses of a training-mode pass with batch norm frozen and the
random draws of the proposal sampler kept apart from the run's: validation reports a loss too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepworks.core.errors import ModelError
from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.detector import TinyBackbone
from deepworks.models.registry import register_model


@dataclass
class FasterRCNNParams:
    width: int = 32  # channels of the backbone's first stage (doubled per stage)
    features: int = 64  # channels the heads see
    representation: int = 256  # the box head's hidden width
    proposals: int = 64  # region proposals sampled per training image (and kept to test)
    score_threshold: float = 0.05
    max_detections: int = 50


@dataclass
class MaskRCNNParams(FasterRCNNParams):
    mask_channels: int = 32  # the mask head's conv widths
    mask_convs: int = 2  # the mask head's conv layers (torchvision's default: 4)
    mask_pool: int = 14  # RoIAlign size for the mask head; its masks are twice as fine


class RCNN(Model):
    """Faster R-CNN, or Mask R-CNN when the parameters size a mask head."""

    def __init__(self, schema: Schema, p: FasterRCNNParams) -> None:
        from torchvision.models.detection import FasterRCNN, MaskRCNN
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
        from torchvision.ops import MultiScaleRoIAlign

        super().__init__()
        channels, height, width = schema.input_shape
        classes = len(schema.classes or []) + 1  # and the background
        backbone = TinyBackbone(channels, p.width, p.features)
        f = p.features
        masks = _mask_parts(f, p, classes) if isinstance(p, MaskRCNNParams) else {}
        self.net = (MaskRCNN if masks else FasterRCNN)(
            backbone,
            min_size=min(height, width),
            max_size=max(height, width),
            image_mean=[0.0] * channels,  # the encoder has normalized the images already
            image_std=[1.0] * channels,
            rpn_anchor_generator=AnchorGenerator(((12, 24, 40),), ((0.5, 1.0, 2.0),)),
            rpn_pre_nms_top_n_train=600,
            rpn_post_nms_top_n_train=p.proposals * 2,
            rpn_pre_nms_top_n_test=300,
            rpn_post_nms_top_n_test=p.proposals,
            rpn_batch_size_per_image=128,
            box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
            box_head=TwoMLPHead(f * 7 * 7, p.representation),
            box_predictor=FastRCNNPredictor(p.representation, classes),
            box_batch_size_per_image=p.proposals,
            box_score_thresh=p.score_threshold,
            box_detections_per_img=p.max_detections,
            **masks,
        )
        self.classes, self.masks = classes - 1, bool(masks)

    def forward(self, images: torch.Tensor, targets: list[dict] | None = None) -> dict[str, Any]:
        shifted = None if targets is None else [_shift(t, +1) for t in targets]
        if self.training:
            return {"losses": self.net(list(images), shifted)}
        found = [_shift(d, -1) for d in self.net(list(images))]
        out: dict[str, Any] = {"detections": [_as_masks(d) for d in found] if self.masks else found}
        if shifted is not None:
            out["losses"] = self._losses(images, shifted)
        return out

    def _losses(self, images: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        """The training losses without training: batch norm keeps its statistics, and the
        proposal sampler's draws come from a forked random stream."""
        norms = [m for m in self.net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        with torch.random.fork_rng(devices=[]):
            self.net.train()
            for m in norms:
                m.eval()
            try:
                return self.net(list(images), targets)
            finally:
                self.net.eval()

    def cam_layer(self) -> nn.Module:
        # the backbone's last convolution: what the region heads pool from
        return [m for m in self.net.backbone.modules() if isinstance(m, nn.Conv2d)][-1]

    def class_evidence(self, images: torch.Tensor) -> torch.Tensor:
        """(N, classes): each class's highest probability over the image's region proposals,
        from the box head: what Grad-CAM explains, differentiable back to the pixels through
        RoIAlign even where no detection clears the score threshold."""
        net = self.net
        batch, _ = net.transform(list(images))
        features = net.backbone(batch.tensors)
        proposals, _ = net.rpn(batch, features)
        pooled = net.roi_heads.box_roi_pool(features, proposals, batch.image_sizes)
        logits, _ = net.roi_heads.box_predictor(net.roi_heads.box_head(pooled))
        probs = logits.softmax(-1)[:, 1:].split([len(p) for p in proposals])  # no background
        return torch.stack([p.amax(0) if len(p) else p.new_zeros(self.classes) for p in probs])

    def exported_part(self) -> nn.Module:
        name = "mask-rcnn" if self.masks else "faster-rcnn"
        raise ModelError(
            f"{name} cannot be exported yet (its region sampling and RoIAlign run per image); "
            "serve it in PyTorch (`deepworks serve` without `deepworks export`), or export an "
            "fcos run"
        )


def _mask_parts(features: int, p: MaskRCNNParams, classes: int) -> dict[str, nn.Module]:
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    return {
        "mask_roi_pool": MultiScaleRoIAlign(["0"], p.mask_pool, 2),
        "mask_head": MaskRCNNHeads(features, [p.mask_channels] * p.mask_convs, 1),
        "mask_predictor": MaskRCNNPredictor(p.mask_channels, p.mask_channels, classes),
    }


def _shift(target: dict[str, torch.Tensor], by: int) -> dict[str, torch.Tensor]:
    return {**target, "labels": target["labels"] + by}


def _as_masks(found: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's (n, 1, H, W) mask probabilities → (n, H, W) masks."""
    return {**found, "masks": found["masks"][:, 0] > 0.5}


register_model(
    "faster-rcnn",
    FasterRCNNParams,
    ("scenes",),
    "Faster R-CNN (torchvision) on a small from-scratch backbone",
    tasks=("detection",),
)(RCNN)
register_model(
    "mask-rcnn",
    MaskRCNNParams,
    ("scenes",),
    "Mask R-CNN (torchvision) on a small from-scratch backbone",
    tasks=("instance-segmentation",),
)(RCNN)
