"""Annotation formats people already have, read into ``SceneRecord``s and class names.

- COCO JSON: ``images``, ``annotations`` (``bbox`` as x, y, width, height), ``categories``;
  image files beside the JSON or in an ``images/`` folder next to it.
- Pascal VOC: one XML per image (``Annotations/`` beside ``JPEGImages/``, or beside the image).
- YOLO: ``images/`` and ``labels/`` (one ``.txt`` per image: class, centre x, centre y, width,
  height, all as fractions of the image) and ``classes.txt`` naming the classes.
- Class masks: ``images/`` and ``masks/`` (a PNG per image, same stem, pixel value = class,
  0 = background) and ``classes.txt`` naming the classes after the background.

Every mistake is one DataError naming the file: a box outside its image, an unknown class, an
image without its annotation file, no annotations at all.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from deepworks.core.errors import DataError
from deepworks.modalities.image.encoder import IMAGE_SUFFIXES


@dataclass
class SceneRecord:
    """One annotated image as its files say: boxes x1, y1, x2, y2 in the image's pixels."""

    image: Path
    boxes: np.ndarray  # (n, 4) float
    labels: np.ndarray  # (n,) class indices
    mask: Path | None = None  # a PNG whose pixel values are class indices (0: background)
    # per object its outline as COCO writes it (polygons or RLE), for instance masks
    segmentations: list[Any] | None = None


Records = tuple[list[SceneRecord], list[str]]


def read_coco(path: Path) -> Records:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        images, annotations, categories = doc["images"], doc["annotations"], doc["categories"]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable COCO JSON file ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: a COCO file holds `images`, `annotations` and `categories`; {exc} is missing"
        ) from None
    cat_ids = sorted(c["id"] for c in categories)
    names = {c["id"]: str(c["name"]) for c in categories}
    index = {cid: i for i, cid in enumerate(cat_ids)}
    by_image: dict[int, list[dict]] = {im["id"]: [] for im in images}
    for ann in annotations:
        if ann.get("category_id") not in index:
            raise DataError(
                f"{path}: annotation {ann.get('id')} has category_id {ann.get('category_id')}, "
                f"not one of the categories ({', '.join(map(str, cat_ids))})"
            )
        if ann.get("image_id") not in by_image:
            raise DataError(f"{path}: annotation {ann.get('id')} names an unknown image_id")
        by_image[ann["image_id"]].append(ann)
    if not annotations:
        raise DataError(f"{path}: no annotations; label some objects first")
    records = []
    for im in images:
        file = _coco_image(path, im["file_name"])
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in by_image[im["id"]])]
        labels = [index[a["category_id"]] for a in by_image[im["id"]]]
        record = _checked(file, boxes, labels, path, (im.get("width"), im.get("height")))
        outlines = [a.get("segmentation") for a in by_image[im["id"]]]
        record.segmentations = outlines if outlines and all(outlines) else None
        records.append(record)
    return records, [names[c] for c in cat_ids]


def _coco_image(path: Path, name: str) -> Path:
    for folder in (path.parent, path.parent / "images"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{path}: image `{name}` is not beside the JSON nor in images/ next to it")


def read_voc(root: Path) -> Records:
    xml_dir = root / "Annotations" if (root / "Annotations").is_dir() else root
    image_dir = root / "JPEGImages" if (root / "JPEGImages").is_dir() else root
    images = _images(image_dir)
    parsed = []
    for image in images:
        xml = xml_dir / f"{image.stem}.xml"
        if not xml.is_file():
            raise DataError(f"{image}: no annotation file {xml}; every image needs one")
        try:
            objects = ET.parse(xml).getroot().findall("object")
            boxes = [
                [float(o.find("bndbox").find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
                for o in objects
            ]
            names = [o.find("name").text.strip() for o in objects]
        except (ET.ParseError, AttributeError, TypeError, ValueError) as exc:
            raise DataError(f"{xml}: not a readable Pascal VOC annotation ({exc})") from None
        parsed.append((image, xml, boxes, names))
    classes = sorted({n for *_, names in parsed for n in names})
    if not classes:
        raise DataError(f"{xml_dir}: no objects in any annotation; label some objects first")
    index = {c: i for i, c in enumerate(classes)}
    records = [
        _checked(image, boxes, [index[n] for n in names], xml)
        for image, xml, boxes, names in parsed
    ]
    return records, classes


def read_yolo(root: Path) -> Records:
    classes = _class_names(root, "YOLO")
    records = []
    for image in _images(root / "images"):
        txt = root / "labels" / f"{image.stem}.txt"
        if not txt.is_file():
            raise DataError(
                f"{image}: no label file {txt}; an image without objects needs an empty one"
            )
        with Image.open(image) as img:
            width, height = img.size
        boxes, labels = [], []
        for number, line in enumerate(txt.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            try:
                cls, cx, cy, w, h = int(fields[0]), *map(float, fields[1:5])
            except ValueError:
                raise DataError(f"{txt}, line {number}: expected `class cx cy w h`") from None
            if not 0 <= cls < len(classes):
                raise DataError(
                    f"{txt}, line {number}: class {cls} is not one of the {len(classes)} classes "
                    f"in classes.txt (0–{len(classes) - 1})"
                )
            boxes.append(
                [
                    (cx - w / 2) * width,
                    (cy - h / 2) * height,
                    (cx + w / 2) * width,
                    (cy + h / 2) * height,
                ]
            )
            labels.append(cls)
        records.append(_checked(image, boxes, labels, txt, (width, height)))
    if not any(len(r.labels) for r in records):
        raise DataError(f"{root / 'labels'}: no objects in any label file")
    return records, classes


def read_masks(root: Path) -> Records:
    """Class masks: each record has its mask PNG and no boxes."""
    classes = ["background", *_class_names(root, "mask")]
    records = []
    for image in _images(root / "images"):
        mask = root / "masks" / f"{image.stem}.png"
        if not mask.is_file():
            raise DataError(f"{image}: no mask {mask}; every image needs its class mask")
        records.append(SceneRecord(image, np.zeros((0, 4), np.float32), np.zeros(0, int), mask))
    return records, classes


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of images")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"{folder}: no images (.png, .jpg, ...) found")
    return images


def _class_names(root: Path, what: str) -> list[str]:
    names = root / "classes.txt"
    if not names.is_file():
        raise DataError(f"{root}: a {what} folder needs classes.txt, one class name a line")
    classes = [line.strip() for line in names.read_text().splitlines() if line.strip()]
    if not classes:
        raise DataError(f"{names}: no class names")
    return classes


def _checked(image: Path, boxes, labels, source: Path, size=(None, None)) -> SceneRecord:
    """The record, once every box lies inside its image and has a positive width and height."""
    width, height = size
    if not (width and height):
        with Image.open(image) as img:
            width, height = img.size
    array = np.asarray(boxes, np.float32).reshape(-1, 4)
    for box in array:
        x1, y1, x2, y2 = box
        tol = 0.5  # annotation tools round to the pixel
        if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol or x2 <= x1 or y2 <= y1:
            raise DataError(
                f"{source}: box {[round(float(v), 1) for v in box]} (x1, y1, x2, y2) of "
                f"{image.name} is outside its {width}×{height} image or empty; fix or remove it"
            )
    array = np.clip(array, 0, [width, height, width, height]).astype(np.float32)
    return SceneRecord(image, array, np.asarray(labels, np.int64))


def read_any(path: Path) -> Records:
    """Whichever layout ``path`` is in: a COCO JSON file, or a VOC, YOLO or class-mask folder."""
    if path.is_file() and path.suffix.lower() == ".json":
        return read_coco(path)
    if (path / "masks").is_dir():
        return read_masks(path)
    if (path / "labels").is_dir():
        return read_yolo(path)
    if path.is_dir():
        return read_voc(path)
    raise DataError(
        f"{path}: expected a COCO JSON file, or a folder in VOC (Annotations/), YOLO (labels/) "
        "or class-mask (masks/) layout"
    )
