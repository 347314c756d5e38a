"""Scenes: the built-in `digit-scenes`, folders in COCO / VOC / YOLO / class-mask layouts,
and their bundles for detection and segmentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from deepworks.config import DataConfig
from deepworks.core.errors import DataError
from deepworks.core.schema import Schema
from deepworks.data.bundle import DataBundle, register_builder
from deepworks.data.sources import Source, register_dataset
from deepworks.data.splits import split_indices
from deepworks.data.tables import need_path
from deepworks.modalities.image.sources import mnist_digits
from deepworks.modalities.scenes import formats
from deepworks.modalities.scenes.encoder import SceneData, ScenesEncoder
from deepworks.modalities.scenes.formats import SceneRecord


@dataclass
class SceneSplits(Source):
    """Scenes made already split (``synth.Scenes`` per split)."""

    modality: ClassVar[str] = "scenes"
    splits: dict
    origin: str


@dataclass
class SceneFiles(Source):
    modality: ClassVar[str] = "scenes"
    records: list[SceneRecord]
    classes: list[str]  # object classes; for masks, background first
    size: tuple[int, int]
    channels: int
    origin: str


@register_dataset(
    "digit-scenes", "detection", "scenes", "MNIST digits pasted into 96×96 textured scenes"
)
def digit_scenes(cfg: DataConfig) -> Source:
    from deepworks.modalities.scenes import synth

    digits, labels = mnist_digits("the digit-scenes dataset")
    return SceneSplits(synth.digit_scenes(digits, labels), "digit-scenes")


def _file_source(reader, what: str):
    def load(cfg: DataConfig) -> Source:
        root = need_path(cfg, what)
        records, classes = reader(root)
        if cfg.image_size is None:
            raise DataError(f"{root}: set `data.image_size` (e.g. 128) to resize the images to")
        size = cfg.image_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        return SceneFiles(records, classes, size, cfg.channels, str(root))

    return load


for _name, _reader, _what, _task in (
    ("coco-json", formats.read_coco, "COCO annotations JSON file", "detection"),
    ("voc-xml", formats.read_voc, "Pascal VOC folder (Annotations/, JPEGImages/)", "detection"),
    ("yolo-txt", formats.read_yolo, "YOLO folder (images/, labels/, classes.txt)", "detection"),
    ("mask-folder", formats.read_masks, "folder of images/ and masks/ PNGs", "segmentation"),
):
    register_dataset(_name, _task, "scenes", f"your {_what}", builtin=False)(
        _file_source(_reader, _what)
    )


@register_builder("scenes", "detection", "instance-segmentation", "segmentation")
def scenes_bundle(src: Source, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    if isinstance(src, SceneSplits):
        return _made_bundle(src, task, cfg)
    return _files_bundle(src, task, cfg, seed)


def _made_bundle(src: SceneSplits, task: str, cfg: DataConfig) -> DataBundle:
    parts = src.splits
    classes = parts["train"].classes
    images = {k: torch.from_numpy(s.images) for k, s in parts.items()}
    for name, n in _kept(cfg, {k: len(v) for k, v in images.items()}).items():
        images[name] = images[name][:n]
    encoder = ScenesEncoder(size=tuple(images["train"].shape[2:]), channels=3)
    encoder.fit_stats(images["train"])
    splits = []
    for name in ("train", "valid", "test"):
        made, n = parts[name], len(images[name])
        items = [
            {"boxes": torch.from_numpy(b), "labels": torch.from_numpy(c), "mask": mask,
             "masks": _instance_masks(inst, len(c))}
            for b, c, inst, mask in zip(
                made.boxes[:n], made.labels[:n], made.instances[:n],
                torch.from_numpy(made.masks[:n]), strict=True,
            )
        ]  # fmt: skip
        splits.append(SceneData(encoder.normalize(images[name]), TARGETS[task](items)))
    return DataBundle(*splits, _schema(task, encoder, classes, src.origin))


# What each task learns from a scene's annotations.
TARGETS = {
    "detection": lambda items: [{"boxes": t["boxes"], "labels": t["labels"]} for t in items],
    "instance-segmentation": lambda items: [
        {"boxes": t["boxes"], "labels": t["labels"], "masks": t["masks"]} for t in items
    ],
    "segmentation": lambda items: torch.stack([t["mask"] for t in items]),
}


def _instance_masks(instances: np.ndarray, count: int) -> torch.Tensor:
    """(count, H, W) boolean masks from an instance map (object k's pixels hold k + 1)."""
    ids = torch.arange(1, count + 1).view(-1, 1, 1)
    return torch.from_numpy(instances)[None] == ids


def _kept(cfg: DataConfig, sizes: dict[str, int]) -> dict[str, int]:
    """How many scenes of each made split to use: `data.limit` shares out a total in the
    splits' proportions; `data.train_size` caps the training split."""
    kept = dict(sizes)
    if cfg.limit and cfg.limit < sum(sizes.values()):
        total = sum(sizes.values())
        kept["train"] = round(cfg.limit * sizes["train"] / total)
        kept["valid"] = round(cfg.limit * sizes["valid"] / total)
        kept["test"] = cfg.limit - kept["train"] - kept["valid"]
    if cfg.train_size:
        kept["train"] = min(kept["train"], cfg.train_size)
    return kept


def _files_bundle(src: SceneFiles, task: str, cfg: DataConfig, seed: int) -> DataBundle:
    masks = any(r.mask for r in src.records)
    if (task == "segmentation") != masks:
        need = "class masks (`mask-folder`)" if task == "segmentation" else "boxes"
        raise DataError(f"{src.origin}: {task} learns from {need}; this data has none")
    if task == "instance-segmentation" and not all(
        r.segmentations for r in src.records if len(r.labels)
    ):
        raise DataError(
            f"{src.origin}: instance segmentation learns from each object's outline (COCO "
            "`segmentation` polygons or RLE); some annotations have none"
        )
    object_classes = src.classes[1:] if masks else src.classes
    encoder = ScenesEncoder(size=src.size, channels=src.channels)
    read = [encoder.read_record(r, len(src.classes)) for r in src.records]
    images = torch.stack([r[0] for r in read])
    train, valid, test = split_indices(len(read), None, cfg, seed, src.origin)
    encoder.fit_stats(images[train])
    images = encoder.normalize(images)
    fields = ("image", "boxes", "labels", "mask", "masks")
    items = [dict(zip(fields, r, strict=True)) for r in read]
    splits = []
    for index in (train, valid, test):
        targets = TARGETS[task]([items[i] for i in index])
        splits.append(SceneData(images[torch.as_tensor(index)], targets))
    return DataBundle(*splits, _schema(task, encoder, object_classes, src.origin))


def _schema(task: str, encoder: ScenesEncoder, classes: list[str], origin: str) -> Schema:
    return Schema(
        modality="scenes",
        task=task,
        input_shape=(encoder.channels, *encoder.size),
        target="mask" if task == "segmentation" else "objects",
        classes=["background", *classes] if task == "segmentation" else list(classes),
        encoder=encoder.to_dict(),
        origin=origin,
    )
