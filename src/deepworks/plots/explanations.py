"""What explanations look like: heatmaps over an input, a series shaded by attribution, a
text's attention, feature importance bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepworks.plots.base import figure, pyplot, save


@figure
def attribution_panels(
    image: np.ndarray, heats: dict[str, np.ndarray], titles: list[str], cmap: str | None, path: Path
) -> Path:
    """The input (H, W[, C] in [0, 1]), then each method's heatmap (H, W, scaled to [0, 1])
    over it; ``titles``: the input's, then each method's."""
    fig, axes = pyplot().subplots(1, 1 + len(heats), figsize=(3 * (1 + len(heats)), 3.3))
    axes = np.atleast_1d(axes)
    axes[0].imshow(image, cmap=cmap)
    for ax, heat in zip(axes[1:], heats.values(), strict=True):
        ax.imshow(image, cmap=cmap)
        ax.imshow(heat, cmap="jet", alpha=0.5)
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return save(fig, path, 90)


@figure
def shaded_series(values: np.ndarray, weight: np.ndarray, title: str, path: Path) -> Path:
    """Each feature's values over time (T, features), shaded by a weight per step in [0, 1]."""
    fig, ax = pyplot().subplots(figsize=(7, 3))
    ax.plot(values, lw=1.2)
    for t, w in enumerate(weight):
        ax.axvspan(t - 0.5, t + 0.5, color="tab:orange", alpha=0.6 * float(w), lw=0)
    ax.set(title=title, xlabel="step")
    return save(fig, path, 90)


@figure
def token_attention(maps: np.ndarray, tokens: list[str], path: Path, limit: int = 40) -> Path:
    """The last layer's attention (averaged over heads) between the text's tokens."""
    last = maps[-1]  # positions are the tokens', padding behind them
    n = min(len(tokens), limit, last.shape[-1])
    fig, ax = pyplot().subplots(figsize=(max(4.0, 0.25 * n + 2), max(4.0, 0.25 * n + 1.5)))
    ax.imshow(last[:n, :n], cmap="viridis")
    ax.set_xticks(range(n), tokens[:n], rotation=90, fontsize=7)
    ax.set_yticks(range(n), tokens[:n], fontsize=7)
    ax.set_title("attention, last layer (mean of heads)", fontsize=9)
    return save(fig, path, dpi=90)


@figure
def feature_importance(means: dict[str, np.ndarray], columns: list[str], path: Path) -> Path:
    """Mean |attribution| per column, per method (scaled to the largest): the 20 strongest."""
    first = next(iter(means.values()))
    order = np.argsort(first)[::-1][:20][::-1]  # the 20 strongest, largest on top
    fig, ax = pyplot().subplots(figsize=(6.5, max(3.0, 0.3 * len(order) + 1.5)))
    height = 0.8 / len(means)
    for j, (method, values) in enumerate(means.items()):
        scaled = values / (values.max() or 1.0)
        ax.barh(np.arange(len(order)) + j * height, scaled[order], height, label=method)
    ax.set_yticks(np.arange(len(order)) + height * (len(means) - 1) / 2)
    ax.set_yticklabels([columns[i] for i in order], fontsize=8)
    ax.set(xlabel="mean |attribution| (scaled to the largest)", title="feature importance")
    ax.legend(fontsize=8)
    return save(fig, path)
