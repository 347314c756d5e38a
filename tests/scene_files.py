"""Small annotated scenes written in the layouts people have: COCO JSON, Pascal VOC, YOLO and
class-mask folders. Each image holds one or two coloured squares ("red", "blue")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["red", "blue"]
COLOURS = {"red": (230, 40, 40), "blue": (40, 60, 230)}


def scenes(n: int = 16, size: int = 32, seed: int = 0) -> list[dict]:
    """n scenes: pixels (H, W, 3) uint8, boxes x1, y1, x2, y2, class names, class mask."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        boxes, names = [], []
        for k in range(int(rng.integers(1, 3))):
            side = int(rng.integers(7, 11))
            x = int(rng.integers(0, size // 2 - side)) + k * size // 2
            y = int(rng.integers(0, size - side))
            name = CLASSES[int(rng.integers(2))]
            image[y : y + side, x : x + side] = COLOURS[name]
            mask[y : y + side, x : x + side] = CLASSES.index(name) + 1
            boxes.append([x, y, x + side, y + side])
            names.append(name)
        out.append({"pixels": image, "boxes": boxes, "names": names, "mask": mask})
    return out


def write_coco(root: Path, items: list[dict], outlines: bool = False) -> Path:
    """A COCO file; with ``outlines``, each object's polygon too (its square's corners)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i, item in enumerate(items):
        Image.fromarray(item["pixels"]).save(root / "images" / f"{i}.png")
        h, w = item["mask"].shape
        images.append({"id": i, "file_name": f"{i}.png", "width": w, "height": h})
        for box, name in zip(item["boxes"], item["names"], strict=True):
            x1, y1, x2, y2 = box
            annotations.append({
                "id": len(annotations), "image_id": i, "bbox": [x1, y1, x2 - x1, y2 - y1],
                "category_id": CLASSES.index(name) + 1, "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
            } | ({"segmentation": [[x1, y1, x2, y1, x2, y2, x1, y2]]} if outlines else {})
            )  # fmt: skip
    categories = [{"id": k + 1, "name": c} for k, c in enumerate(CLASSES)]
    path = root / "annotations.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


def write_voc(root: Path, items: list[dict]) -> Path:
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(exist_ok=True)
    for i, item in enumerate(items):
        Image.fromarray(item["pixels"]).save(root / "JPEGImages" / f"{i}.png")
        objects = "".join(
            f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
            f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
            for b, name in zip(item["boxes"], item["names"], strict=True)
        )
        (root / "Annotations" / f"{i}.xml").write_text(f"<annotation>{objects}</annotation>")
    return root


def _images_and_classes(root: Path, items: list[dict], beside: str) -> None:
    """``images/*.png``, an empty ``beside/`` folder for their annotations, ``classes.txt``."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / beside).mkdir(exist_ok=True)
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    for i, item in enumerate(items):
        Image.fromarray(item["pixels"]).save(root / "images" / f"{i}.png")


def write_yolo(root: Path, items: list[dict]) -> Path:
    _images_and_classes(root, items, "labels")
    for i, item in enumerate(items):
        h, w = item["mask"].shape
        lines = [
            f"{CLASSES.index(n)} {(b[0] + b[2]) / 2 / w} {(b[1] + b[3]) / 2 / h} "
            f"{(b[2] - b[0]) / w} {(b[3] - b[1]) / h}"
            for b, n in zip(item["boxes"], item["names"], strict=True)
        ]
        (root / "labels" / f"{i}.txt").write_text("\n".join(lines) + "\n")
    return root


def write_masks(root: Path, items: list[dict]) -> Path:
    _images_and_classes(root, items, "masks")
    for i, item in enumerate(items):
        Image.fromarray(item["mask"]).save(root / "masks" / f"{i}.png")
    return root
