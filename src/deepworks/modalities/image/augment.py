"""Image augmentation: torchvision.transforms.v2 one image at a time (each its own random
draw) in pixel units, then back to the model's normalization; MixUp / CutMix mix whole batches
and turn the labels into class probabilities, which cross-entropy takes as they are."""

from __future__ import annotations

from collections.abc import Callable

import torch

from deepworks.config import AugmentConfig
from deepworks.core.errors import ConfigError
from deepworks.core.schema import Schema
from deepworks.core.task import has_tag
from deepworks.data.augment import Batch, on_batches, register_augmenter


@register_augmenter("image", ("flip", "rotate", "crop", "color", "randaugment", "mixup", "cutmix"))
def image_augment(cfg: AugmentConfig, schema: Schema):
    return on_batches(_images(cfg, schema))


def _images(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    from torchvision.transforms import v2

    size = schema.input_shape[1:]
    steps: list = []
    if cfg.crop:
        steps.append(v2.RandomResizedCrop(size, scale=(cfg.crop, 1.0), antialias=True))
    if cfg.flip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.rotate:
        steps.append(v2.RandomRotation(cfg.rotate))
    if cfg.color:
        c = cfg.color
        saturation = c if schema.input_shape[0] == 3 else 0
        steps.append(v2.ColorJitter(brightness=c, contrast=c, saturation=saturation))
    if cfg.randaugment:
        steps.append(v2.RandAugment())
    per_image = v2.Compose(steps) if steps else None
    mixers = []
    if cfg.mixup:
        mixers.append(v2.MixUp(alpha=cfg.mixup, num_classes=schema.n_outputs))
    if cfg.cutmix:
        mixers.append(v2.CutMix(alpha=cfg.cutmix, num_classes=schema.n_outputs))
    mix = v2.RandomChoice(mixers) if mixers else None
    if mix and not (has_tag(schema.task, "classifies") and has_tag(schema.task, "labelled")):
        raise ConfigError("data.augment.mixup / cutmix mix class labels: classification only")

    mean = torch.tensor(schema.encoder.get("mean") or [0.0]).view(-1, 1, 1)
    std = torch.tensor(schema.encoder.get("std") or [1.0]).view(-1, 1, 1)

    def augment(batch: Batch) -> Batch:
        x, y = batch
        if per_image is not None:
            pixels = (x * std + mean).clamp(0, 1)
            if cfg.randaugment:  # RandAugment works on 8-bit images
                pixels = (pixels * 255).round().to(torch.uint8)
            pixels = torch.stack([per_image(image) for image in pixels])
            if pixels.dtype == torch.uint8:
                pixels = pixels.float() / 255
            x = (pixels - mean) / std
        if mix is not None:
            x, y = mix(x, y)
        return x, y

    return augment
