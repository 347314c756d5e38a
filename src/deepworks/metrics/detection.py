"""Object detection and instance segmentation scores: COCO's mean average precision,
computed through torchmetrics' MeanAveragePrecision by faster-coco-eval, a C++ port of
pycocotools' COCOeval giving the same figures (held by a test against pycocotools itself),
so they are the ones papers report (pycocotools' own Python loop: the fcos detector's final
evaluation on digit scenes took 8.8–9.5 s with it, 5.4–5.5 s with this).

``map`` is the COCO metric (AP averaged over IoU 0.50:0.95 and the classes), ``map_50`` and
``map_75`` at one IoU each, ``mar_100`` the recall with up to 100 detections an image,
``map_per_class`` the 0.50:0.95 AP of each class and ``ap50_per_class`` each class's AP at IoU
0.5 (a second evaluation at that threshold alone), ``pr_curve_per_class`` each class's
precision at recall 0, 0.01, ..., 1 at IoU 0.5 (pycocotools' interpolated curve, from the
same evaluation). The same names with ``mask_`` in front
score instance masks instead of boxes (IoU of the masks' pixels).
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

from deepworks.core.errors import require

BOX_SCORES = frozenset(
    {"map", "map_50", "map_75", "mar_100", "map_per_class", "ap50_per_class", "pr_curve_per_class"}
)
MASK_SCORES = frozenset(f"mask_{name}" for name in BOX_SCORES)
SCORES = BOX_SCORES | MASK_SCORES
_SUMMARY = ("map", "map_50", "map_75", "mar_100")
BACKEND = "faster_coco_eval"  # torchmetrics' name; "pycocotools" for the reference


class DetectionScores(Metric):
    """Boxes (and masks) predicted and true for every image seen, scored at ``compute``."""

    full_state_update = False

    def __init__(
        self, classes: list[str], names: frozenset[str] = BOX_SCORES, backend: str = BACKEND
    ) -> None:
        from torchmetrics.detection import MeanAveragePrecision

        require(backend, "vision", "COCO's mean average precision")  # named, not a traceback
        super().__init__()
        self.classes, self.names = classes, names
        self.kinds = [
            k for k, group in (("bbox", BOX_SCORES), ("segm", MASK_SCORES)) if names & group
        ]
        per_class = any(n.endswith("map_per_class") for n in names)
        curves = any(n.endswith("pr_curve_per_class") for n in names)
        self.coco = MeanAveragePrecision(
            iou_type=tuple(self.kinds),
            class_metrics=per_class,
            extended_summary=curves,
            backend=backend,
        )
        self.at_50 = (
            MeanAveragePrecision(
                iou_type=tuple(self.kinds),
                iou_thresholds=[0.5],
                class_metrics=True,
                backend=backend,
            )
            if any(n.endswith("ap50_per_class") for n in names)
            else None
        )

    def update(self, preds: list[dict[str, torch.Tensor]], target: list[dict[str, Any]]) -> None:
        keys = ("boxes", "scores", "labels", *(("masks",) if "segm" in self.kinds else ()))
        preds = [{k: p[k].detach() for k in keys} for p in preds]
        target = [{k: t[k] for k in keys if k != "scores"} for t in target]
        self.coco.update(preds, target)
        if self.at_50 is not None:
            self.at_50.update(preds, target)

    def reset(self) -> None:
        super().reset()
        self.coco.reset()
        if self.at_50 is not None:
            self.at_50.reset()

    def compute(self) -> dict[str, torch.Tensor]:
        values = self.coco.compute()
        at_50 = self.at_50.compute() if self.at_50 is not None else {}
        out = {}
        for kind, prefix in (("bbox", ""), ("segm", "mask_")):
            if kind not in self.kinds:
                continue
            key = f"{kind}_".__add__ if len(self.kinds) > 1 else str  # torchmetrics' keys
            for name in _SUMMARY:
                out[prefix + name] = values[key(name)]
            out[prefix + "map_per_class"] = self._by_class(values, key)
            if key("precision") in values:
                out[prefix + "pr_curve_per_class"] = self._curves(values, key)
            if at_50:
                out[prefix + "ap50_per_class"] = self._by_class(at_50, key)
        return {k: v for k, v in out.items() if k in self.names}

    def _curves(self, values: dict[str, torch.Tensor], key) -> torch.Tensor:
        """(classes, 101) precision at each recall level, IoU 0.5, all areas, up to 100
        detections an image; -1 for a class never seen."""
        full = torch.full((len(self.classes), 101), -1.0)
        precision = values[key("precision")][0, :, :, 0, -1]  # (recall, classes seen)
        for column, class_id in enumerate(values["classes"].reshape(-1).tolist()):
            full[class_id] = precision[:, column].clamp_min(0).float()
        return full

    def _by_class(self, values: dict[str, torch.Tensor], key) -> torch.Tensor:
        """One AP per class in the order of ``classes`` (-1 where a class never appeared)."""
        full = torch.full((len(self.classes),), -1.0)
        if key("map_per_class") not in values:
            return full
        ids, aps = values["classes"].reshape(-1), values[key("map_per_class")].reshape(-1)
        full[ids.long()] = aps.float()
        return full
