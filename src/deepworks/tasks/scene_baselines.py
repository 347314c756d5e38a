"""Traditional computer vision on the same test scenes as the network, for the leaderboard.

- ``components`` (detection): Otsu's threshold on each pixel's brightest channel, a closing,
  connected components (scipy) as candidate boxes, and a logistic regression (scikit-learn)
  on each candidate's 16×16 thumbnail, trained on the training boxes and on blobs that are no
  object; a box's score is its most likely class's probability. Scored by the same COCO mAP.
- ``pixel_logistic`` (segmentation): a logistic regression per pixel on its colour, the mean
  colour of its 5×5 neighbourhood and the brightest value around it, trained on sampled
  training pixels. Scored by the same pixel confusion matrix.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from deepworks.core.schema import Schema

THUMB = 16
MAX_PIXELS = 200_000  # training pixels sampled for the per-pixel regression


def _pixels(data: Any, schema: Schema) -> tuple[np.ndarray, Any]:
    from deepworks.modalities.scenes.encoder import ScenesEncoder

    x, y = data.__getitems__(list(range(len(data))))
    return ScenesEncoder.from_dict(schema.encoder).pixels(x), y


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=128, range=(0.0, 1.0))
    p = hist / max(hist.sum(), 1)
    w0 = np.cumsum(p)
    mu = np.cumsum(p * edges[:-1])
    between = (mu[-1] * w0 - mu) ** 2 / np.clip(w0 * (1 - w0), 1e-12, None)
    return float(edges[int(np.argmax(between))])


def _candidates(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(box x1, y1, x2, y2; thumbnail; its pixels) per connected bright blob of one (H, W,
    C) image."""
    from PIL import Image
    from scipy import ndimage

    bright = image.max(axis=-1)
    ink = ndimage.binary_closing(bright > _otsu(bright), iterations=1)
    labels, _ = ndimage.label(ink)
    out = []
    for number, (rows, cols) in enumerate(ndimage.find_objects(labels) or [], 1):
        if (rows.stop - rows.start) * (cols.stop - cols.start) < 16:
            continue
        crop = (bright[rows, cols] * 255).astype(np.uint8)
        thumb = np.asarray(Image.fromarray(crop).resize((THUMB, THUMB)), np.float32) / 255.0
        box = np.array([cols.start, rows.start, cols.stop, rows.stop], np.float32)
        out.append((box, thumb.ravel(), labels == number))
    return out


def _iou(a: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(0)
    w = np.clip(np.minimum(a[2], boxes[:, 2]) - np.maximum(a[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(a[3], boxes[:, 3]) - np.maximum(a[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(a) + area(boxes) - inter)


def components_scores(
    bundle: Any, schema: Schema, seed: int, masks: bool = False
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from deepworks.metrics.detection import DetectionScores

    start = time.perf_counter()
    none = len(schema.classes or [])  # the class of blobs that are no object
    features, labels = [], []
    train_pixels, train_targets = _pixels(bundle.train, schema)
    for image, target in zip(train_pixels, train_targets, strict=True):
        truth = target["boxes"].numpy()
        for box, thumb, _ in _candidates(image):
            overlap = _iou(box, truth)
            best = int(overlap.argmax()) if len(overlap) else -1
            features.append(thumb)
            labels.append(
                int(target["labels"][best]) if best >= 0 and overlap[best] >= 0.5 else none
            )
    classifier = LogisticRegression(max_iter=300, C=1.0, random_state=seed)
    classifier.fit(np.asarray(features), np.asarray(labels))
    seconds = time.perf_counter() - start
    names = {"map", "map_50", "map_75"}
    names |= {f"mask_{n}" for n in names} if masks else set()
    scores = DetectionScores(schema.classes or [], frozenset(names))
    test_pixels, test_targets = _pixels(bundle.test, schema)
    known = [int(c) for c in classifier.classes_]
    for image, target in zip(test_pixels, test_targets, strict=True):
        found = _candidates(image)
        boxes = torch.tensor(np.array([c[0] for c in found]), dtype=torch.float32).reshape(-1, 4)
        pixels = torch.from_numpy(np.array([c[2] for c in found]).reshape(-1, *image.shape[:2]))
        if found:
            proba = classifier.predict_proba(np.asarray([c[1] for c in found]))
            objects = [k for k, c in enumerate(known) if c != none]
            best = proba[:, objects].argmax(1)
            label = torch.tensor([known[objects[b]] for b in best])
            score = torch.tensor(proba[np.arange(len(found)), [objects[b] for b in best]])
        else:
            label, score = torch.zeros(0, dtype=torch.long), torch.zeros(0)
        found = {"boxes": boxes, "scores": score.float(), "labels": label, "masks": pixels}
        scores.update([found], [target])
    values = {k: float(v) for k, v in scores.compute().items()}
    return {f"components_{k}": v for k, v in values.items()} | {
        "components_fit_seconds": round(seconds, 2),
        "components_model": "Otsu + connected components + logistic regression",
    }


def _pixel_features(images: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    mean = ndimage.uniform_filter(images, size=(1, 5, 5, 1))
    bright = ndimage.maximum_filter(images.max(axis=-1), size=(1, 5, 5))[..., None]
    return np.concatenate([images, mean, bright], axis=-1).reshape(-1, 2 * images.shape[-1] + 1)


def pixel_logistic_scores(bundle: Any, schema: Schema, seed: int) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from deepworks.metrics.segmentation import PixelScores

    start = time.perf_counter()
    images, masks = _pixels(bundle.train, schema)
    x, y = _pixel_features(images), masks.numpy().reshape(-1)
    pick = np.random.default_rng(seed).choice(len(x), min(len(x), MAX_PIXELS), replace=False)
    classifier = LogisticRegression(max_iter=200, random_state=seed).fit(x[pick], y[pick])
    seconds = time.perf_counter() - start
    images, masks = _pixels(bundle.test, schema)
    predicted = classifier.predict(_pixel_features(images)).reshape(masks.shape)
    scores = PixelScores(schema.n_outputs, frozenset({"mean_iou", "dice", "pixel_accuracy"}))
    scores.update(torch.from_numpy(predicted), masks)
    values = {k: float(v) for k, v in scores.compute().items()}
    return {f"pixel_logistic_{k}": v for k, v in values.items()} | {
        "pixel_logistic_fit_seconds": round(seconds, 2),
        "pixel_logistic_model": "per-pixel logistic regression on colour and 5×5 context",
    }
