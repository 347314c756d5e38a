"""Object detection: a box and a class for every object in an image, scored by COCO mAP.

The model takes (images, targets) and returns its ``losses`` (torchvision's detectors: focal
classification, GIoU regression, centre-ness) and, in evaluation, its ``detections``. Beside it
the task scores a traditional pipeline on the same test images (``components``: Otsu
threshold, connected components, a logistic regression on each blob's pixels; see
``scene_baselines``), so the leaderboard says whether the network earned its keep.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task


@register_task("detection")
class Detection(Task):
    """Find every object: its box and its class (mAP@0.5, COCO mAP@[.5:.95])."""

    main_metric = "map_50"
    tags = frozenset({"supervised", "explainable"})
    epoch_metrics = frozenset({"map", "map_50"})
    own_baselines = ("components",)
    row_per_input = False  # a row per detected box
    masks: ClassVar[bool] = False  # whether each object also has its mask
    final_metric_names = tuple(
        f"components_{m}" for m in ("map", "map_50", "map_75", "fit_seconds", "model")
    )
    data_hint = "images with boxes: digit-scenes, coco-json, voc-xml or yolo-txt"

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, y = batch
        return sum(model(x, y)["losses"].values())

    def evaluation_step(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any, Any]:
        x, y = batch
        out = model(x, y)
        return sum(out["losses"].values()), out["detections"], y

    def score_names(self) -> frozenset[str]:
        """What it is scored on: boxes (and, for instance segmentation, masks)."""
        from deepworks.metrics.detection import BOX_SCORES, SCORES

        return SCORES if self.masks else BOX_SCORES

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        from deepworks.metrics.detection import DetectionScores

        classes = self.schema.classes or []
        return {
            name: lambda n=name: DetectionScores(classes, frozenset({n}))
            for name in self.score_names()
        }

    def metrics(self, names: set[str] | None = None):
        """Every score from one pass of pycocotools (one metric, whatever names are asked)."""
        from deepworks.core.metric import MetricSet
        from deepworks.metrics.detection import DetectionScores

        scores = self.score_names()
        chosen = scores if names is None else frozenset(names) & scores
        return MetricSet({"detection": DetectionScores(self.schema.classes or [], chosen)})

    def summarize(self, values: dict[str, torch.Tensor]) -> dict[str, Any]:
        out = super().summarize(values)
        for key in out:
            if key.endswith("_per_class"):
                out[key] = dict(zip(self.schema.classes or [], out[key], strict=True))
        return out

    def explained_scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Each class's evidence in the image, as the detector measures it (``class_evidence``:
        FCOS's strongest logit, an R-CNN's best class probability over its proposals)."""
        return model.class_evidence(x)

    def predict(self, model: nn.Module, x: Any) -> dict[str, Any]:
        return {"detections": model(x)["detections"]}

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        from deepworks.tasks.scene_baselines import components_scores

        return {"test": components_scores(bundle, self.schema, seed, masks=self.masks)}

    def in_original_pixels(self, name: Any, found: dict[str, torch.Tensor]) -> dict:
        """A detection of an image file in that file's own pixels: boxes scaled back from
        the model's size, masks resized (nearest). Arrays were given at the model's size."""
        if not isinstance(name, str) or not Path(name).is_file():
            return found
        from PIL import Image

        with Image.open(name) as img:  # the header alone
            width, height = img.size
        _, model_h, model_w = self.schema.input_shape
        scale = torch.tensor([width / model_w, height / model_h] * 2)
        scaled = {**found, "boxes": found["boxes"] * scale}
        if "masks" in found and len(found["masks"]):
            masks = found["masks"][:, None].float()
            resized = nn.functional.interpolate(masks, size=(height, width), mode="nearest")
            scaled["masks"] = resized[:, 0] > 0.5
        return scaled

    def _in_files_pixels(self, ids: list[Any], out: dict[str, Any]) -> list[dict]:
        return [self.in_original_pixels(n, d) for n, d in zip(ids, out["detections"], strict=True)]

    def prediction_frame(self, ids: list[Any], out: dict[str, Any], metrics: dict):
        """One row per detected box: the input, the class, the score, x1, y1, x2, y2 in the
        input file's pixels."""
        import pandas as pd

        classes = self.schema.classes or []
        found = self._in_files_pixels(ids, out)
        rows = [
            {"input": name, "label": classes[int(c)], "score": float(s),
             **dict(zip(("x1", "y1", "x2", "y2"), map(float, b), strict=True))}
            for name, d in zip(ids, found, strict=True)
            for b, s, c in zip(d["boxes"], d["scores"], d["labels"], strict=True)
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["input", "label", "score", "x1", "y1", "x2", "y2"])

    def prediction_files(self, ids: list[Any], out: dict[str, Any], folder: Path) -> list[Path]:
        """The detections as COCO results (``detections.json``: image, category, bbox as x, y,
        width, height, score), the format COCO's evaluation and its tools read."""
        import json

        # COCO results are in the image's pixels; so are the overlays drawn from the same
        scaled = [
            self.in_original_pixels(n, d) for n, d in zip(ids, out["detections"], strict=True)
        ]
        results = []
        for name, d in zip(ids, scaled, strict=True):
            for k, (b, s, c) in enumerate(zip(d["boxes"], d["scores"], d["labels"], strict=True)):
                results.append({
                    "image_id": str(name), "category_id": int(c), "score": round(float(s), 5),
                    "bbox": [round(float(v), 2) for v in (b[0], b[1], b[2] - b[0], b[3] - b[1])],
                } | ({"segmentation": _rle(d["masks"][k])} if "masks" in d else {}))  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "detections.json"
        path.write_text(json.dumps(results))
        return [path, *self._overlays(ids, scaled, folder / "overlays")]

    def _overlays(self, ids: list[Any], found: list[dict], folder: Path) -> list[Path]:
        """Each image file with its detections (in its own pixels) drawn, those scoring at
        least 0.3: box, class, score, and the mask tinted where there is one."""
        import numpy as np
        from PIL import Image, ImageDraw

        classes, written = self.schema.classes or [], []
        for name, d in zip(ids, found, strict=True):
            if not isinstance(name, str) or not Path(name).is_file():
                continue
            keep = d["scores"] >= 0.3
            with Image.open(name) as img:
                canvas = np.asarray(img.convert("RGB"), dtype=np.float32)
            for mask in d["masks"][keep].numpy() if "masks" in d else []:
                canvas[mask] = 0.5 * canvas[mask] + 0.5 * np.array([255, 60, 60])
            picture = Image.fromarray(canvas.astype(np.uint8))
            draw = ImageDraw.Draw(picture)
            kept = zip(d["boxes"][keep], d["scores"][keep], d["labels"][keep], strict=True)
            for box, score, label in kept:
                draw.rectangle(box.tolist(), outline=(255, 40, 40))
                text = f"{classes[int(label)]} {score:.2f}"
                draw.text((float(box[0]), float(box[1]) - 10), text, fill=(255, 40, 40))
            folder.mkdir(parents=True, exist_ok=True)
            written.append(folder / f"{Path(name).stem}.png")
            picture.save(written[-1])
        return written

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        """Overlays of detections on test scenes; the precision–recall curve per class that
        the test evaluation computed."""
        from deepworks.modalities.scenes.encoder import ScenesEncoder
        from deepworks.plots import detection_overlays, pr_curves

        classes = self.schema.classes or []
        x, y = bundle.test.__getitems__(list(range(min(8, len(bundle.test)))))
        model.eval()
        with torch.inference_mode():
            found = model(x)["detections"]
        pixels = ScenesEncoder.from_dict(self.schema.encoder).pixels(x)
        truths, found = ([{k: v.numpy() for k, v in d.items()} for d in ds] for ds in (y, found))
        detection_overlays(pixels, truths, found, classes, folder / "detections.png")
        curves = metrics["test"]["pr_curve_per_class"]
        pr_curves(
            torch.linspace(0, 1, 101).numpy(),
            {c: curve for c, curve in curves.items() if curve[0] >= 0},  # classes seen
            folder / "pr_curves.png",
            "precision–recall per class at IoU 0.5 (test)",
        )


def _rle(mask: torch.Tensor) -> dict[str, Any]:
    """A mask as COCO's compressed run-length encoding (pycocotools)."""
    import numpy as np
    from pycocotools import mask as coco_mask

    rle = coco_mask.encode(np.asfortranarray(mask.numpy().astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
