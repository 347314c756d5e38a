"""Matrices, maps, bars and images: the confusion matrix, embeddings, a SOM's maps, detections
and masks over their scenes, attention and saliency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepworks.plots.base import figure, pyplot, save


@figure
def confusion_matrix(matrix: list[list[int]], classes: list[str], path: Path, title: str) -> Path:
    cm = np.asarray(matrix)
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = pyplot().subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set(
        xticks=range(len(classes)),
        yticks=range(len(classes)),
        xticklabels=classes,
        yticklabels=classes,
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    pyplot().setp(ax.get_xticklabels(), rotation=45, ha="right")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                int(cm[i, j]),
                ha="center",
                va="center",
                color="white" if cm[i, j] > threshold else "black",
                fontsize=8,
            )
    return save(fig, path)


@figure
def embedding(
    codes: np.ndarray, labels: np.ndarray | None, classes: list[str] | None, path: Path, title: str
) -> Path:
    """Codes in 2-D (their first two principal components when wider), coloured by label."""
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA

        codes = PCA(2, random_state=0).fit_transform(codes)
    fig, ax = pyplot().subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=8, alpha=0.7)
    else:
        for i, name in enumerate(classes or []):
            pick = labels == i
            ax.scatter(codes[pick, 0], codes[pick, 1], s=8, alpha=0.7, label=name)
        ax.legend(markerscale=2, fontsize=8, loc="best")
    ax.set(title=title, xlabel="component 1", ylabel="component 2")
    return save(fig, path)


@figure
def som_maps(u_matrix: np.ndarray, hits: np.ndarray, path: Path) -> Path:
    """The U-matrix (light = far from neighbours: cluster borders) and the hit map."""
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(10, 4.5))
    for ax, values, title, cmap in (
        (left, u_matrix, "U-matrix (distance to neighbours)", "bone_r"),
        (right, hits, "hits (training examples per unit)", "Blues"),
    ):
        image = ax.imshow(values, cmap=cmap)
        ax.set(title=title, xlabel="column", ylabel="row")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return save(fig, path)


@figure
def judged_samples(
    guess: np.ndarray, requested: np.ndarray | None, classes: list[str], path: Path
) -> Path:
    """What a classifier of the real data sees in generated samples.

    Conditional: per requested class, the share it recognizes as that class. Otherwise: how the
    samples spread over the classes (a generator that collapses onto a few shows it here).
    """
    k = len(classes)
    fig, ax = pyplot().subplots(figsize=(max(5.0, 0.5 * k + 2), 4))
    if requested is not None:
        share = [float((guess[requested == i] == i).mean()) for i in range(k)]
        ax.bar(range(k), share, color="tab:green")
        overall = float((guess == requested).mean())
        ax.axhline(overall, color="black", ls="--", lw=1, label=f"all: {overall:.1%}")
        ax.set(ylim=(0, 1), ylabel="recognized as requested", xlabel="requested class")
        ax.set_title("conditional samples recognized by a classifier of the real data")
        ax.legend(loc="lower right")
    else:
        counts = np.bincount(guess, minlength=k) / max(len(guess), 1)
        ax.bar(range(k), counts, color="tab:blue")
        ax.axhline(1 / k, color="black", ls="--", lw=1, label="uniform")
        ax.set(ylabel="share of samples", xlabel="class the classifier sees")
        ax.set_title("generated samples by class, as a classifier of the real data sees them")
        ax.legend(loc="lower right")
    ax.set_xticks(range(k), classes)
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path)


@figure
def bars(groups: dict[str, dict[str, float]], path: Path, title: str) -> Path:
    """Grouped bars: one group per metric, one bar per contender (model, baseline, ...)."""
    names = list(groups)
    metrics = list(next(iter(groups.values())))
    width = 0.8 / len(names)
    fig, ax = pyplot().subplots(figsize=(max(5.0, 1.5 * len(metrics) + 2), 4))
    for j, name in enumerate(names):
        values = [groups[name][m] for m in metrics]
        positions = np.arange(len(metrics)) + (j - (len(names) - 1) / 2) * width
        drawn = ax.bar(positions, values, width, label=name)
        ax.bar_label(drawn, fmt="%.3f", fontsize=8)
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return save(fig, path)


@figure
def detection_overlays(
    pixels: np.ndarray, truths: list, found: list, classes: list[str], path: Path
) -> Path:
    """Test scenes (N, H, W, C in [0, 1]): true boxes dashed green, detections red with their
    class and score (those over 0.3)."""
    from matplotlib.patches import Rectangle

    n = len(pixels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(2.6 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, image, truth, det in zip(axes.flat, pixels, truths, found, strict=False):
        ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        if "masks" in det:  # instance masks of the confident detections, one colour each
            confident = np.asarray(det["scores"]) >= 0.3
            kept = np.asarray(det["masks"])[confident]
            for k, mask in enumerate(kept):
                ax.imshow(np.ma.masked_where(~mask, np.full(mask.shape, k % 10)), cmap="tab10",
                          vmin=0, vmax=9, alpha=0.55, interpolation="nearest")  # fmt: skip
        for x1, y1, x2, y2 in truth["boxes"].tolist():
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="lime", ls="--"))
        for (x1, y1, x2, y2), s, c in zip(
            det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist(), strict=True
        ):
            if s >= 0.3:
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="red", lw=1.2))
                ax.text(x1, y1 - 1, f"{classes[c]} {s:.2f}", color="red", fontsize=7)
        ax.axis("off")
    fig.suptitle("test scenes: true boxes (green, dashed), detections (red)", fontsize=9)
    return save(fig, path)


@figure
def mask_overlays(
    pixels: np.ndarray, truths: np.ndarray, predicted: np.ndarray, path: Path
) -> Path:
    """Rows of test scenes: the image, its true class mask, the predicted one."""
    n = len(pixels)
    fig, axes = pyplot().subplots(3, n, figsize=(1.8 * n, 5.6), squeeze=False)
    top = max(int(truths.max()), int(predicted.max()), 1)
    for j in range(n):
        axes[0][j].imshow(pixels[j].squeeze(), cmap="gray" if pixels.shape[-1] == 1 else None)
        axes[1][j].imshow(
            truths[j], cmap="tab20", vmin=0, vmax=max(top, 19), interpolation="nearest"
        )
        axes[2][j].imshow(
            predicted[j], cmap="tab20", vmin=0, vmax=max(top, 19), interpolation="nearest"
        )
        for i in range(3):
            axes[i][j].axis("off")
    for i, label in enumerate(("image", "true mask", "predicted")):
        axes[i][0].set_title(label, fontsize=8, loc="left")
    return save(fig, path)


@figure
def attention_maps(items: list[dict[str, Any]], path: Path) -> Path:
    """Source × written-token attention heatmaps, one panel per sentence (each item: its
    `source` tokens, `written` tokens and `weights`, written × source)."""
    fig, axes = pyplot().subplots(1, len(items), figsize=(4.2 * len(items), 4.2), squeeze=False)
    for ax, item in zip(axes[0], items, strict=True):
        weights = np.asarray(item["weights"]).reshape(len(item["written"]), len(item["source"]))
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(item["source"])), item["source"], rotation=70, fontsize=7)
        ax.set_yticks(range(len(item["written"])), item["written"], fontsize=7)
        ax.set_xlabel("source")
    axes[0][0].set_ylabel("translation")
    return save(fig, path)


@figure
def word_saliency(items: list[dict[str, Any]], path: Path) -> Path:
    """Per clip: its spectrogram, and under it how much each input frame drove each written
    word (one row per word; each item: `spectrogram` (mels, T), `words`, `saliency` (words,
    T), `seconds` per frame)."""
    fig, axes = pyplot().subplots(
        2 * len(items), 1, figsize=(9, 3.4 * len(items)), squeeze=False,
        gridspec_kw={"height_ratios": [2, 1.4] * len(items)},
    )  # fmt: skip
    for i, item in enumerate(items):
        spec, saliency = np.asarray(item["spectrogram"]), np.asarray(item["saliency"])
        extent = (0, spec.shape[1] * item["seconds"], 0, spec.shape[0])
        top, bottom = axes[2 * i][0], axes[2 * i + 1][0]
        top.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=extent)
        top.set_title(item["transcript"] or "(nothing written)", fontsize=9)
        top.set_ylabel("mel band")
        if len(saliency):
            bottom.imshow(saliency, aspect="auto", cmap="Blues", interpolation="nearest",
                          extent=(*extent[:2], len(saliency) - 0.5, -0.5))  # fmt: skip
            bottom.set_yticks(range(len(item["words"])), item["words"], fontsize=7)
        bottom.set_xlabel("seconds")
    return save(fig, path)
