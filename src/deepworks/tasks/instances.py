"""Instance segmentation: every object's box, class and pixels, scored by COCO mask mAP (and
box mAP beside it). Everything else — data, losses from the model, COCO results, overlays, the
traditional pipeline beside it (whose blobs are its masks) — is detection's."""

from __future__ import annotations

from deepworks.core.task import register_task
from deepworks.tasks.detection import Detection


@register_task("instance-segmentation")
class InstanceSegmentation(Detection):
    """Find every object: its box, its class and its pixels (mask mAP@0.5, COCO mask mAP)."""

    main_metric = "mask_map_50"
    tags = frozenset({"supervised"})  # Mask R-CNN's region stages are not explained yet
    epoch_metrics = frozenset({"mask_map_50", "map_50"})
    masks = True
    final_metric_names = Detection.final_metric_names + tuple(
        f"components_mask_{m}" for m in ("map", "map_50", "map_75")
    )
    data_hint = "images with object outlines: digit-scenes, or coco-json with `segmentation`"
