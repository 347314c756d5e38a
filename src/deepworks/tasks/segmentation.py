"""Semantic segmentation: a class for every pixel (background included), scored by mean IoU.

Beside the network the task scores a per-pixel logistic regression on the same test images
(``pixel_logistic``: each pixel's colour and its neighbourhood's; see ``scene_baselines``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.task import Task, register_task

DICE_SMOOTH = 1.0  # keeps the Dice of a class absent from a batch near 1, its gradient small


@register_task("segmentation")
class Segmentation(Task):
    """Label every pixel with its class (mean IoU, Dice, pixel accuracy)."""

    main_metric = "mean_iou"
    tags = frozenset({"supervised", "explainable"})
    epoch_metrics = frozenset({"mean_iou", "pixel_accuracy"})
    own_baselines = ("pixel_logistic",)
    final_metric_names = tuple(
        f"pixel_logistic_{m}"
        for m in ("mean_iou", "dice", "pixel_accuracy", "fit_seconds", "model")
    )
    data_hint = "images with class masks: digit-scenes or mask-folder"

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy plus soft Dice over the object classes, nnU-Net's default: Dice
        weighs each class alike however few its pixels, so small objects' classes are
        learned, not drowned by the background."""
        classes = output.shape[1]
        proba = output.float().softmax(dim=1)[:, 1:]
        truth = F.one_hot(target, classes).permute(0, 3, 1, 2)[:, 1:].float()
        overlap = (proba * truth).sum(dim=(0, 2, 3))
        total = proba.sum(dim=(0, 2, 3)) + truth.sum(dim=(0, 2, 3))
        dice = (2 * overlap + DICE_SMOOTH) / (total + DICE_SMOOTH)
        return F.cross_entropy(output, target) + (1 - dice.mean())

    def metric_factories(self) -> dict[str, Callable[[], Any]]:
        from deepworks.metrics.segmentation import SCORES, PixelScores

        n = self.schema.n_outputs
        return {name: lambda k=name: PixelScores(n, frozenset({k})) for name in SCORES}

    def metrics(self, names: set[str] | None = None):
        """Every score from one pixel confusion matrix."""
        from deepworks.core.metric import MetricSet
        from deepworks.metrics.segmentation import SCORES, PixelScores

        chosen = SCORES if names is None else frozenset(names) & SCORES
        return MetricSet({"pixels": PixelScores(self.schema.n_outputs, chosen)})

    def summarize(self, values: dict[str, torch.Tensor]) -> dict[str, Any]:
        out = super().summarize(values)
        if "iou_per_class" in out:
            out["iou_per_class"] = dict(
                zip(self.schema.classes or [], out["iou_per_class"], strict=True)
            )
        return out

    def explained_scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Each class's logits summed over the pixels predicted as that class (its predicted
        mask); the background is never the one explained (it has the most pixels)."""
        logits = model(x)
        mask = F.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2)
        scores = (logits * mask).sum(dim=(2, 3))
        return torch.cat([torch.full_like(scores[:, :1], -1e9), scores[:, 1:]], dim=1)

    def postprocess(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        proba = output.softmax(dim=1)
        confidence, mask = proba.max(dim=1)
        return {"mask": mask, "confidence": confidence}

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        """One row per image: the share of its pixels in each class and the mean confidence
        (the masks themselves are written as PNGs by `deepworks predict --masks`)."""
        import pandas as pd

        classes = self.schema.classes or []
        masks = out["mask"]
        shares = torch.stack(
            [(masks == k).float().mean(dim=(1, 2)) for k in range(len(classes))], 1
        )
        frame = pd.DataFrame(shares.numpy(), columns=[f"share_{c}" for c in classes])
        frame.insert(0, "input", ids)
        frame["confidence"] = out["confidence"].mean(dim=(1, 2)).numpy()
        return frame

    def prediction_files(self, ids: list[Any], out: dict[str, Any], folder: Path) -> list[Path]:
        """One PNG per input: its predicted class mask (pixel value = class index, 0 =
        background), named after the input."""
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, mask in zip(ids, out["mask"], strict=True):
            path = folder / f"{Path(str(name)).stem}.png"
            Image.fromarray(mask.numpy().astype("uint8")).save(path)
            paths.append(path)
        return paths

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        from deepworks.tasks.scene_baselines import pixel_logistic_scores

        return {"test": pixel_logistic_scores(bundle, self.schema, seed)}

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        from deepworks.modalities.scenes.encoder import ScenesEncoder
        from deepworks.plots import mask_overlays

        x, y = bundle.test.__getitems__(list(range(min(8, len(bundle.test)))))
        model.eval()
        with torch.inference_mode():
            predicted = model(x).argmax(1)
        pixels = ScenesEncoder.from_dict(self.schema.encoder).pixels(x)
        mask_overlays(pixels, y.numpy(), predicted.numpy(), folder / "masks.png")
