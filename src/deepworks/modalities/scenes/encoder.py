"""Scenes → model tensors: each image read and resized as the image encoder does, its boxes
scaled by the same factors and its class mask resized by nearest neighbour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepworks.core.errors import DataError
from deepworks.data.datasets import Data
from deepworks.data.encoders import register_encoder
from deepworks.modalities.image.encoder import ImageEncoder
from deepworks.modalities.scenes.formats import SceneRecord, read_any


@register_encoder("scenes")
@dataclass
class ScenesEncoder(ImageEncoder):
    """Images as the image encoder reads them; boxes and masks follow the resize."""

    kind: str = "scenes"

    def read_record(self, record: SceneRecord, classes: int) -> tuple[torch.Tensor, ...]:
        """(image, boxes, labels, class mask or None, instance masks or None), all in the
        model's size."""
        with self.opened(record.image) as img:  # one read: its size, then its pixels
            width, height = img.size
            image = self.decoded(img)
        scale = torch.tensor([self.size[1] / width, self.size[0] / height] * 2)
        boxes = torch.as_tensor(record.boxes, dtype=torch.float32).reshape(-1, 4) * scale
        labels = torch.as_tensor(record.labels, dtype=torch.int64)
        mask = self.read_mask(record.mask, (height, width), classes) if record.mask else None
        outlines = self.read_outlines(record, (height, width)) if record.segmentations else None
        return image, boxes, labels, mask, outlines

    def read_outlines(self, record: SceneRecord, image_size: tuple[int, int]) -> torch.Tensor:
        """(n, H, W) boolean instance masks from COCO polygons or RLE (pycocotools), resized
        to the model's size."""
        from PIL import Image

        from deepworks.core.errors import require

        coco_mask = require("pycocotools.mask", "vision", "COCO instance masks")
        height, width = image_size
        masks = []
        for number, outline in enumerate(record.segmentations or []):
            try:
                rle = (
                    coco_mask.frPyObjects(outline, height, width)
                    if isinstance(outline, list) or isinstance(outline.get("counts"), list)
                    else outline
                )
                pixels = coco_mask.decode(coco_mask.merge(rle) if isinstance(rle, list) else rle)
            except (TypeError, ValueError, AttributeError) as exc:
                raise DataError(
                    f"{record.image}: object {number}'s segmentation is not a COCO polygon "
                    f"or RLE ({exc})"
                ) from None
            small = Image.fromarray(pixels * 255).resize(self.size[::-1], Image.Resampling.NEAREST)
            masks.append(torch.from_numpy(np.asarray(small) > 127))
        return torch.stack(masks) if masks else torch.zeros((0, *self.size), dtype=torch.bool)

    def labelled(self, path: Path, schema: Any) -> SceneData:
        """An annotated folder or COCO file in any layout `formats` reads, its class names
        matched to the run's."""
        records, names = read_any(path)
        known = {c: i for i, c in enumerate(schema.classes)}
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise DataError(
                f"{path}: class {unknown[0]!r} is not one this run learned "
                f"({', '.join(schema.classes)})"
            )
        lookup = torch.tensor([known[n] for n in names], dtype=torch.long)
        read = [self.read_record(r, len(names)) for r in records]
        x = self.normalize(torch.stack([r[0] for r in read]))
        if schema.task == "segmentation":
            return SceneData(x, lookup[torch.stack([r[3] for r in read])])
        outlines = schema.task == "instance-segmentation"
        return SceneData(
            x,
            [
                {"boxes": r[1], "labels": lookup[r[2]]} | ({"masks": r[4]} if outlines else {})
                for r in read
            ],
        )

    def pixels(self, x: torch.Tensor) -> np.ndarray:
        """Normalized images (N, C, H, W) back to pixels (N, H, W, C) in [0, 1], for figures."""
        mean = torch.tensor(self.mean).view(-1, 1, 1)
        std = torch.tensor(self.std).view(-1, 1, 1)
        return (x.cpu() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()

    def read_mask(self, path: Path, image_size: tuple[int, int], classes: int) -> torch.Tensor:
        from PIL import Image

        with self.opened(path) as img:
            if (img.height, img.width) != image_size:
                raise DataError(
                    f"{path}: the mask is {img.width}×{img.height} but its image is "
                    f"{image_size[1]}×{image_size[0]}; a mask must match its image pixel for pixel"
                )
            values = np.asarray(img.convert("L").resize(self.size[::-1], Image.Resampling.NEAREST))
        if values.max() >= classes:
            raise DataError(
                f"{path}: pixel value {int(values.max())} is not a class (0 is background, "
                f"1–{classes - 1} the classes listed)"
            )
        return torch.from_numpy(values.astype(np.int64))


class SceneData(Data):
    """Normalized images in memory with their targets: per image a dict of ``boxes`` and
    ``labels`` (detection) or the class mask (segmentation)."""

    def __init__(self, x: torch.Tensor, targets: list[dict[str, torch.Tensor]] | torch.Tensor):
        self.x, self.y = x, targets

    def __len__(self) -> int:
        return len(self.x)

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, Any]:
        x = self.x[torch.as_tensor(indices)]
        if isinstance(self.y, torch.Tensor):
            return x, self.y[torch.as_tensor(indices)]
        return x, [self.y[i] for i in indices]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        return self.x[i], self.y[i]
