"""Scene augmentation that moves boxes and masks with the pixels: torchvision.transforms.v2
on tv_tensors (BoundingBoxes, Mask), one image at a time, each its own draw; boxes a crop
leaves empty are dropped with their labels (SanitizeBoundingBoxes)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from deepworks.config import AugmentConfig
from deepworks.core.schema import Schema
from deepworks.data.augment import Batch, on_batches, register_augmenter


@register_augmenter("scenes", ("flip", "crop", "rotate", "color"))
def scenes_augment(cfg: AugmentConfig, schema: Schema):
    return on_batches(_scenes(cfg, schema))


def _scenes(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    size = schema.input_shape[1:]
    steps: list = []
    if cfg.crop:  # zoom in up to 1/crop, keeping the scene's size
        steps.append(v2.RandomResizedCrop(size, scale=(cfg.crop, 1.0), ratio=(0.9, 1.1)))
    if cfg.rotate:  # boxes become the rotated box's bounding box; masks turn exactly
        steps.append(v2.RandomRotation(cfg.rotate))
    if cfg.flip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.color:
        saturation = cfg.color if schema.input_shape[0] == 3 else 0
        steps.append(v2.ColorJitter(cfg.color, cfg.color, saturation))
    for_masks = v2.Compose(steps)
    for_boxes = v2.Compose([*steps, v2.SanitizeBoundingBoxes(min_size=2)])
    mean = torch.tensor(schema.encoder["mean"]).view(-1, 1, 1)
    std = torch.tensor(schema.encoder["std"]).view(-1, 1, 1)
    boxes_format = tv_tensors.BoundingBoxFormat.XYXY

    def one(image: torch.Tensor, target):
        pixels = tv_tensors.Image((image * std + mean).clamp(0, 1))
        if isinstance(target, dict):
            boxes = tv_tensors.BoundingBoxes(target["boxes"], format=boxes_format, canvas_size=size)
            pixels, out = for_boxes(pixels, {"boxes": boxes, "labels": target["labels"]})
            target = {"boxes": out["boxes"].as_subclass(torch.Tensor), "labels": out["labels"]}
        else:
            pixels, mask = for_masks(pixels, tv_tensors.Mask(target))
            target = mask.as_subclass(torch.Tensor)
        return (pixels.as_subclass(torch.Tensor) - mean) / std, target

    def augment(batch: Batch) -> Batch:
        x, y = batch
        pairs = [one(image, target) for image, target in zip(x, y, strict=True)]
        images = torch.stack([p[0] for p in pairs])
        targets = [p[1] for p in pairs]
        return images, targets if isinstance(y, list) else torch.stack(targets)

    return augment
