"""Curves over epochs, steps, thresholds and time: learning, ROC / PR, reliability, forecasts,
an agent's returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepworks.plots.base import figure, pyplot, save


@figure
def learning_curves(history: list[dict[str, Any]], path: Path, main_metric: str) -> Path:
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_metric) = pyplot().subplots(1, 2, figsize=(10, 4))
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


@figure
def forecast(
    actual: np.ndarray, model: np.ndarray, naive: np.ndarray, path: Path, title: str
) -> Path:
    """Forecasts over the test span from origins one horizon apart, against the actual values.

    ``actual``, ``model`` and ``naive`` are (windows, horizon) arrays in time order.
    """
    horizon = actual.shape[1]
    truth = np.concatenate([actual[:, 0], actual[-1, 1:]])
    fig, ax = pyplot().subplots(figsize=(10, 4))
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


@figure
def reliability(
    raw: np.ndarray, scaled: np.ndarray, y: np.ndarray, path: Path, bins: int = 15
) -> Path:
    """Reliability diagram: accuracy against confidence (probabilities, (N, classes)), before
    and after temperature scaling; a calibrated model sits on the diagonal."""
    fig, ax = pyplot().subplots(figsize=(5.5, 5))
    edges = np.linspace(0, 1, bins + 1)
    for proba, label, color in (
        (raw, "model", "tab:red"),
        (scaled, "temperature-scaled", "tab:blue"),
    ):
        confidence, correct = proba.max(-1), proba.argmax(-1) == y
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


def class_curves(proba: np.ndarray, y: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """ROC and precision-recall curves, one per class against the rest (the positive class
    alone for two classes; a micro-average beyond 10 classes), with their areas: computed
    where the predictions are, drawn by ``roc_pr``."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    onehot = np.eye(len(classes))[y]
    if len(classes) == 2:
        pairs = [(classes[1], onehot[:, 1], proba[:, 1])]
    elif len(classes) > 10:
        pairs = [("micro-average", onehot.ravel(), proba.ravel())]
    else:
        pairs = [(c, onehot[:, j], proba[:, j]) for j, c in enumerate(classes)]
    curves = []
    for name, truth, score in pairs:
        if truth.min() == truth.max():  # a class absent from the split has no curve
            continue
        fpr, tpr, _ = roc_curve(truth, score)
        precision, recall, _ = precision_recall_curve(truth, score)
        curves.append({"name": name, "fpr": fpr, "tpr": tpr, "auc": auc(fpr, tpr),
                       "recall": recall, "precision": precision,
                       "ap": average_precision_score(truth, score)})  # fmt: skip
    return curves


@figure
def roc_pr(curves: list[dict[str, Any]], path: Path) -> Path:
    """ROC and precision-recall curves (``class_curves``), with their areas."""
    fig, (ax_roc, ax_pr) = pyplot().subplots(1, 2, figsize=(10, 4.5))
    for c in curves:
        ax_roc.plot(c["fpr"], c["tpr"], lw=1.2, label=f"{c['name']} (AUC {c['auc']:.3f})")
        ax_pr.plot(c["recall"], c["precision"], lw=1.2, label=f"{c['name']} (AP {c['ap']:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="gray", ls="--", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall (test)")
    for ax in (ax_roc, ax_pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is ax_roc else "lower left")
    return save(fig, path)


@figure
def pr_curves(recall: np.ndarray, precision: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One precision–recall curve per class (precision at each recall level)."""
    fig, ax = pyplot().subplots(figsize=(5, 4))
    for name, values in precision.items():
        ax.plot(recall, values, label=name, lw=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    return save(fig, path)


@figure
def agent_curves(history: list[dict[str, Any]], path: Path, terms: list[str]) -> Path:
    """An agent's learning against environment steps: the evaluation episodes' mean return
    (± their spread) and the training episodes' mean, then its loss terms."""
    steps = [r["env_steps"] for r in history]
    cols = min(3, 1 + len(terms))
    rows = -(-(1 + len(terms)) // cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
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
