"""Images unlike the training images, found without the model: each image is shrunk to a
thumbnail of at most 16×16 per channel and rebuilt from the training thumbnails' principal
components; an error far above what training images get (1.5 × their 99.5th percentile) means
the image lies off everything the model was trained on — noise, another kind of picture.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

THUMB = 16  # thumbnail side: enough to tell a digit from noise, small enough to save as JSON
COMPONENTS = 16
QUANTILE, MARGIN = 0.995, 1.5


def thumbnails(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) normalized images → (N, C·h·w) thumbnails."""
    side = (min(THUMB, x.shape[2]), min(THUMB, x.shape[3]))
    return F.adaptive_avg_pool2d(x.double(), side).flatten(1)


def errors(x: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
    mean = torch.tensor(state["mean"], dtype=torch.float64)
    basis = torch.tensor(state["basis"], dtype=torch.float64)
    centred = thumbnails(x) - mean
    return (centred - centred @ basis.T @ basis).pow(2).mean(1)


def fit(x: torch.Tensor) -> dict[str, Any]:
    """The training images' thumbnail mean, principal components and error limit."""
    thumbs = thumbnails(x)
    mean = thumbs.mean(0)
    _, _, vt = torch.linalg.svd(thumbs - mean, full_matrices=False)
    state = {"mean": mean.tolist(), "basis": vt[: min(COMPONENTS, len(x) - 1)].tolist()}
    state["limit"] = float(torch.quantile(errors(x, state), QUANTILE)) * MARGIN
    return state
