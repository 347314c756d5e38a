"""Explanations people can look at: overlays for images and spectrograms, highlighted tokens
(HTML) and attention maps for text, feature bars (CSV + PNG) for tables, shaded series.

One writer per kind of data, registered by modality; a writer takes batches as they come and
writes its summary files on ``close``. Every writer also keeps ``explanations.csv``: one row per
input with its prediction, the output explained and integrated gradients' completeness gap.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import numpy as np

from deepworks import plots
from deepworks.core.registry import Registry
from deepworks.core.schema import Schema
from deepworks.data.encoders import inputs_of
from deepworks.explain.explainer import Explanation
from deepworks.train.checkpoint import write_text

WRITERS: Registry[type] = Registry("explanation writer")


class Writer:
    def __init__(self, folder: Path, schema: Schema) -> None:
        self.folder, self.schema = Path(folder), schema
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.files: list[Path] = []

    def add(self, e: Explanation) -> None:
        for i, name in enumerate(e.inputs):
            row = {"input": name, "prediction": e.predictions[i], "explained": e.explained[i]}
            if e.delta is not None:
                row["ig_relative_delta"] = float(e.delta[i])
            self.rows.append(row)
        self.write(e, len(self.rows) - len(e.inputs))

    def write(self, e: Explanation, offset: int) -> None:
        raise NotImplementedError

    def close(self) -> list[Path]:
        path = self.folder / "explanations.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.rows[0]) if self.rows else ["input"])
            writer.writeheader()
            writer.writerows(self.rows)
        return [path, *self.files]


def _label(name: Any, index: int) -> str:
    stem = Path(str(name)).stem if isinstance(name, str | Path) else str(name)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:40]
    return f"{index:04d}-{safe}"


@WRITERS.register("image")
@WRITERS.register("spectrogram")
class PixelWriter(Writer):
    """Per input one PNG: the input, then each method's heatmap over it."""

    def write(self, e: Explanation, offset: int) -> None:
        shown = _displayable(e.x.numpy(), self.schema)
        cmap = "gray" if shown.shape[-1] == 1 else None
        if inputs_of(self.schema.encoder) != "image":  # a spectrogram
            cmap = "magma"
        for i, name in enumerate(e.inputs):
            image = shown[i][..., 0] if shown.shape[-1] == 1 else shown[i]
            heats = {}
            for method, attribution in e.attributions.items():
                heat = np.abs(attribution[i]).sum(0)
                heats[method] = heat / (heat.max() or 1.0)
            titles = [f"predicted {e.predictions[i]}"]
            titles += [f"{method} → {e.explained[i]}" for method in heats]
            path = self.folder / f"{_label(name, offset + i)}.png"
            self.files.append(plots.attribution_panels(image, heats, titles, cmap, path))


def _displayable(x: np.ndarray, schema: Schema) -> np.ndarray:
    """(N, C, H, W) model inputs → (N, H, W, C) in [0, 1] for display."""
    enc = schema.encoder
    if inputs_of(enc) == "image" and enc.get("mean"):
        x = x * np.asarray(enc["std"])[:, None, None] + np.asarray(enc["mean"])[:, None, None]
    else:  # a spectrogram: stretch to [0, 1]
        low, high = x.min(axis=(1, 2, 3), keepdims=True), x.max(axis=(1, 2, 3), keepdims=True)
        x = (x - low) / np.maximum(high - low, 1e-8)
    return np.clip(x, 0, 1).transpose(0, 2, 3, 1)


@WRITERS.register("tokens")
class TokenWriter(Writer):
    """tokens.html: each text with its tokens shaded by attribution (green for the explained
    output, red against); attention.png per text where the model has attention."""

    def __init__(self, folder: Path, schema: Schema) -> None:
        super().__init__(folder, schema)
        self.blocks: list[str] = []

    def write(self, e: Explanation, offset: int) -> None:
        method = "integrated-gradients" if "integrated-gradients" in e.attributions else None
        for i, tokens in enumerate(e.tokens):
            scores = e.attributions[method][i][: len(tokens)] if method else np.zeros(len(tokens))
            self.blocks.append(
                f"<div class='text'><p class='meta'>#{offset + i} · predicted "
                f"<b>{html.escape(e.predictions[i])}</b> · explaining "
                f"<b>{html.escape(e.explained[i])}</b></p><p>{highlight(tokens, scores)}</p></div>"
            )
            if e.attention is not None:
                path = self.folder / f"{_label('attention', offset + i)}.png"
                plots.token_attention(e.attention[i], tokens, path)
                self.files.append(path)

    def close(self) -> list[Path]:
        path = self.folder / "tokens.html"
        write_text(path, token_page(self.blocks))
        self.files.insert(0, path)
        return super().close()


def highlight(tokens: list[str], scores: np.ndarray) -> str:
    """Tokens as HTML spans, green where they push towards the explained output, red against."""
    scale = float(np.abs(scores).max()) or 1.0
    spans = []
    for token, score in zip(tokens, scores, strict=True):
        alpha = min(abs(float(score)) / scale, 1.0) * 0.8
        colour = f"rgba(22,163,74,{alpha:.2f})" if score >= 0 else f"rgba(220,38,38,{alpha:.2f})"
        spans.append(
            f"<span style='background:{colour}' title='{float(score):+.4f}'>"
            f"{html.escape(token)}</span>"
        )
    return " ".join(spans)


def token_page(blocks: list[str]) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>token attributions</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}"
        ".text{border-bottom:1px solid #ddd;padding:.5rem 0}.meta{color:#555;font-size:.85rem}"
        "span{padding:1px 2px;border-radius:3px;line-height:1.8}</style></head><body>"
        "<h1>Token attributions (integrated gradients)</h1>"
        "<p>Green pushes towards the explained output, red against; hover for the score.</p>"
        + "".join(blocks)
        + "</body></html>"
    )


@WRITERS.register("table")
class FeatureWriter(Writer):
    """attributions.csv (one column per input column; one-hot parts summed back into their
    column) and feature_importance.png (mean |attribution| over the inputs)."""

    def __init__(self, folder: Path, schema: Schema) -> None:
        super().__init__(folder, schema)
        enc = schema.encoder
        texts, categorical = enc.get("texts", {}), enc.get("categorical", {})
        # a table's numeric columns; an agent's observation, number by number
        numeric = enc.get("numeric") or [f"observation_{i}" for i in range(schema.input_shape[0])]
        self.columns = [*numeric, *texts, *categorical]
        widths = [1] * len(numeric) + [len(t["idf"]) for t in texts.values()]
        widths += [len(c) + 1 for c in categorical.values()]
        self.owner = np.repeat(np.arange(len(self.columns)), widths)
        self.table: dict[str, list[np.ndarray]] = {}

    def per_column(self, attr: np.ndarray) -> np.ndarray:
        out = np.zeros((len(attr), len(self.columns)))
        np.add.at(out.T, self.owner, attr.T)
        return out

    def write(self, e: Explanation, offset: int) -> None:
        for method, attr in e.attributions.items():
            self.table.setdefault(method, []).append(self.per_column(attr))

    def close(self) -> list[Path]:
        for method, parts in self.table.items():
            values = np.concatenate(parts)
            path = self.folder / f"attributions-{method}.csv"
            with open(path, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["input", *self.columns])
                for row, v in zip(self.rows, values, strict=True):
                    writer.writerow([row["input"], *(f"{x:.6g}" for x in v)])
            self.files.append(path)
        if self.table:
            path = self.folder / "feature_importance.png"
            plots.feature_importance(
                {m: np.abs(np.concatenate(p)).mean(0) for m, p in self.table.items()},
                self.columns,
                path,
            )
            self.files.append(path)
        return super().close()


@WRITERS.register("series")
class SeriesWriter(Writer):
    """Per input one PNG: each feature's values over time, shaded by attribution."""

    def write(self, e: Explanation, offset: int) -> None:
        x = e.x.numpy()
        method = next(iter(e.attributions))
        for i, name in enumerate(e.inputs):
            weight = np.abs(e.attributions[method][i]).sum(-1)
            title = f"predicted {e.predictions[i]} · {method} (shaded)"
            path = self.folder / f"{_label(name, offset + i)}.png"
            self.files.append(
                plots.shaded_series(x[i], weight / (weight.max() or 1.0), title, path)
            )
