"""Figures people would rather see than read: learning curves, confusion matrices, ROC / PR,
embeddings, forecasts, maps, detections, explanations.

Every figure is a ``@figure`` function of plain data and a path (base.py): inside
``written_aside`` helper processes build and write them while the run goes on. matplotlib
loads on first use, so importing this package costs nothing a run does not draw.
"""

from deepworks.plots.base import figure, pyplot, save, written_aside
from deepworks.plots.curves import (
    agent_curves,
    class_curves,
    forecast,
    learning_curves,
    pr_curves,
    reliability,
    roc_pr,
)
from deepworks.plots.explanations import (
    attribution_panels,
    feature_importance,
    shaded_series,
    token_attention,
)
from deepworks.plots.pictures import (
    attention_maps,
    bars,
    confusion_matrix,
    detection_overlays,
    embedding,
    judged_samples,
    mask_overlays,
    som_maps,
    word_saliency,
)

# What a helper process runs as it starts, so matplotlib is loaded before the first figure.
WARM = "deepworks.plots.base:pyplot"

__all__ = [
    "WARM", "agent_curves", "attention_maps", "attribution_panels", "bars", "class_curves",
    "confusion_matrix", "detection_overlays", "embedding", "feature_importance", "figure",
    "forecast", "judged_samples", "learning_curves", "mask_overlays", "pr_curves", "pyplot",
    "reliability", "roc_pr", "save", "shaded_series", "som_maps", "token_attention",
    "word_saliency", "written_aside",
]  # fmt: skip
