"""Plots people would rather see than read: learning curves, confusion matrices, embeddings,
forecasts, maps and what a classifier sees in generated samples."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from deepworks.core.helpers import Helpers

_aside: Helpers | None = None  # where figures go to be written, inside `written_aside`


def save(fig: Any, path: Path, dpi: int = 100) -> Path:
    """Lay out, write and close a figure; returns where it goes. Inside ``written_aside``,
    a helper process does the laying out and writing (most of a figure's cost)."""
    if _aside is None:
        _write(fig, path, dpi)
    else:
        _aside.submit(_write, fig, path, dpi)  # a figure pickles whole; the PNG is the same
        plt.close(fig)
    return path


def _write(fig: Any, path: Path, dpi: int) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


@contextlib.contextmanager
def written_aside(helpers: Helpers | None) -> Iterator[None]:
    """Within, ``save`` hands figures to ``helpers`` (None: writes them here); on leaving,
    every figure is on disk, or the first that failed is raised."""
    global _aside
    _aside = helpers
    try:
        yield
    except BaseException:
        _aside = None
        if helpers is not None:
            with contextlib.suppress(RuntimeError):  # the first failure is the one to tell
                helpers.wait()
        raise
    _aside = None
    if helpers is not None:
        helpers.wait()


def learning_curves(history: list[dict[str, Any]], path: Path, main_metric: str) -> Path:
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
    if all("valid_loss" in r for r in history):  # an agent has no validation loss
        ax_loss.plot(epochs, [r["valid_loss"] for r in history], marker="o", label="valid")
    ax_loss.set(title="loss", xlabel="epoch")
    ax_loss.legend()
    key = f"valid_{main_metric}"
    if all(key in r for r in history):
        ax_metric.plot(epochs, [r[key] for r in history], marker="o", color="tab:green")
    ax_metric.set(title=f"valid {main_metric}", xlabel="epoch")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return save(fig, path)


def confusion_matrix(matrix: list[list[int]], classes: list[str], path: Path, title: str) -> Path:
    cm = np.asarray(matrix)
    size = max(4.0, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
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
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
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


def forecast(
    actual: np.ndarray, model: np.ndarray, naive: np.ndarray, path: Path, title: str
) -> Path:
    """Forecasts over the test span from origins one horizon apart, against the actual values.

    ``actual``, ``model`` and ``naive`` are (windows, horizon) arrays in time order.
    """
    horizon = actual.shape[1]
    truth = np.concatenate([actual[:, 0], actual[-1, 1:]])
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(truth, color="black", lw=1.5, label="actual")
    for k, origin in enumerate(range(0, len(actual), horizon)):
        steps = np.arange(origin, origin + horizon)
        ax.plot(steps, model[origin], color="tab:blue", label="model" if k == 0 else None)
        ax.plot(
            steps,
            naive[origin],
            color="tab:orange",
            ls="--",
            label="seasonal naive" if k == 0 else None,
        )
    ax.set(title=title, xlabel="step in the test span", ylabel="value")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def embedding(
    codes: np.ndarray, labels: np.ndarray | None, classes: list[str] | None, path: Path, title: str
) -> Path:
    """Codes in 2-D (their first two principal components when wider), coloured by label."""
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA

        codes = PCA(2, random_state=0).fit_transform(codes)
    fig, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=8, alpha=0.7)
    else:
        for i, name in enumerate(classes or []):
            pick = labels == i
            ax.scatter(codes[pick, 0], codes[pick, 1], s=8, alpha=0.7, label=name)
        ax.legend(markerscale=2, fontsize=8, loc="best")
    ax.set(title=title, xlabel="component 1", ylabel="component 2")
    return save(fig, path)


def som_maps(u_matrix: np.ndarray, hits: np.ndarray, path: Path) -> Path:
    """The U-matrix (light = far from neighbours: cluster borders) and the hit map."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, values, title, cmap in (
        (left, u_matrix, "U-matrix (distance to neighbours)", "bone_r"),
        (right, hits, "hits (training examples per unit)", "Blues"),
    ):
        image = ax.imshow(values, cmap=cmap)
        ax.set(title=title, xlabel="column", ylabel="row")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return save(fig, path)


def judged_samples(
    guess: np.ndarray, requested: np.ndarray | None, classes: list[str], path: Path
) -> Path:
    """What a classifier of the real data sees in generated samples.

    Conditional: per requested class, the share it recognizes as that class. Otherwise: how the
    samples spread over the classes (a generator that collapses onto a few shows it here).
    """
    k = len(classes)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * k + 2), 4))
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


def bars(groups: dict[str, dict[str, float]], path: Path, title: str) -> Path:
    """Grouped bars: one group per metric, one bar per contender (model, baseline, ...)."""
    names = list(groups)
    metrics = list(next(iter(groups.values())))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(metrics) + 2), 4))
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


def reliability(raw: Any, scaled: Any, y: Any, path: Path, bins: int = 15) -> Path:
    """Reliability diagram: accuracy against confidence, before and after temperature scaling;
    a calibrated model sits on the diagonal."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    edges = np.linspace(0, 1, bins + 1)
    for proba, label, color in (
        (raw, "model", "tab:red"),
        (scaled, "temperature-scaled", "tab:blue"),
    ):
        confidence, guess = (t.numpy() for t in proba.max(-1))
        correct = guess == y.numpy()
        which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
        centres, accuracy = [], []
        for b in range(bins):
            if (which == b).any():
                centres.append(confidence[which == b].mean())
                accuracy.append(correct[which == b].mean())
        ax.plot(centres, accuracy, marker="o", color=color, label=label)
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfectly calibrated")
    ax.set(xlabel="confidence", ylabel="accuracy", title="reliability (test split)")
    ax.set(xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return save(fig, path)


def roc_pr(proba: np.ndarray, y: np.ndarray, classes: list[str], path: Path) -> Path:
    """ROC and precision-recall curves, one per class against the rest (the positive class
    alone for two classes; a micro-average beyond 10 classes), with their areas."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    onehot = np.eye(len(classes))[y]
    if len(classes) == 2:
        curves = [(classes[1], onehot[:, 1], proba[:, 1])]
    elif len(classes) > 10:
        curves = [("micro-average", onehot.ravel(), proba.ravel())]
    else:
        curves = [(c, onehot[:, j], proba[:, j]) for j, c in enumerate(classes)]
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4.5))
    for name, truth, score in curves:
        if truth.min() == truth.max():  # a class absent from the split has no curve
            continue
        fpr, tpr, _ = roc_curve(truth, score)
        ax_roc.plot(fpr, tpr, lw=1.2, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(truth, score)
        ap = average_precision_score(truth, score)
        ax_pr.plot(recall, precision, lw=1.2, label=f"{name} (AP {ap:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="gray", ls="--", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall (test)")
    for ax in (ax_roc, ax_pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is ax_roc else "lower left")
    return save(fig, path)


def detection_overlays(
    pixels: np.ndarray, truths: list, found: list, classes: list[str], path: Path
) -> Path:
    """Test scenes (N, H, W, C in [0, 1]): true boxes dashed green, detections red with their
    class and score (those over 0.3)."""
    from matplotlib.patches import Rectangle

    n = len(pixels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, image, truth, det in zip(axes.flat, pixels, truths, found, strict=False):
        ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        if "masks" in det:  # instance masks of the confident detections, one colour each
            confident = det["scores"].numpy() >= 0.3
            kept = det["masks"].numpy()[confident]
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


def mask_overlays(
    pixels: np.ndarray, truths: np.ndarray, predicted: np.ndarray, path: Path
) -> Path:
    """Rows of test scenes: the image, its true class mask, the predicted one."""
    n = len(pixels)
    fig, axes = plt.subplots(3, n, figsize=(1.8 * n, 5.6), squeeze=False)
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


def pr_curves(recall: np.ndarray, precision: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One precision–recall curve per class (precision at each recall level)."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, values in precision.items():
        ax.plot(recall, values, label=name, lw=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    return save(fig, path)


def attention_maps(items: list[dict[str, Any]], path: Path) -> Path:
    """Source × written-token attention heatmaps, one panel per sentence (each item: its
    `source` tokens, `written` tokens and `weights`, written × source)."""
    fig, axes = plt.subplots(1, len(items), figsize=(4.2 * len(items), 4.2), squeeze=False)
    for ax, item in zip(axes[0], items, strict=True):
        weights = np.asarray(item["weights"]).reshape(len(item["written"]), len(item["source"]))
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(item["source"])), item["source"], rotation=70, fontsize=7)
        ax.set_yticks(range(len(item["written"])), item["written"], fontsize=7)
        ax.set_xlabel("source")
    axes[0][0].set_ylabel("translation")
    return save(fig, path)


def word_saliency(items: list[dict[str, Any]], path: Path) -> Path:
    """Per clip: its spectrogram, and under it how much each input frame drove each written
    word (one row per word; each item: `spectrogram` (mels, T), `words`, `saliency` (words,
    T), `seconds` per frame)."""
    fig, axes = plt.subplots(
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


def agent_curves(history: list[dict[str, Any]], path: Path, terms: list[str]) -> Path:
    """An agent's learning against environment steps: the evaluation episodes' mean return
    (± their spread) and the training episodes' mean, then its loss terms."""
    steps = [r["env_steps"] for r in history]
    cols = min(3, 1 + len(terms))
    rows = -(-(1 + len(terms)) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    axes = axes.flatten()
    for ax in axes[1 + len(terms) :]:
        ax.axis("off")
    mean = np.array([r.get("valid_mean_return", np.nan) for r in history])
    spread = np.array([r.get("valid_return_std", 0.0) for r in history])
    axes[0].plot(steps, mean, marker="o", label="evaluation (greedy)")
    axes[0].fill_between(steps, mean - spread, mean + spread, alpha=0.2)
    axes[0].plot(steps, [r.get("train_return", np.nan) for r in history], label="training")
    axes[0].set(xlabel="environment steps", ylabel="episode return", title="return")
    axes[0].legend(fontsize=8)
    for ax, term in zip(axes[1 : 1 + len(terms)], terms, strict=True):
        ax.plot(steps, [r.get(term, np.nan) for r in history])
        ax.set(xlabel="environment steps", title=term.replace("_", " "))
    return save(fig, path)
