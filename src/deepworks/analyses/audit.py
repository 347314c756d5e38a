"""The data audit, run before training: what in the data could make the metrics lie.

Checks, on the encoded splits (what the model really sees): class balance; exact and near
duplicates within the training split (near: equal after rounding to 0.01 in encoded units);
train / test and train / valid leakage (test rows that also appear in training); and, for
tables, empty cells and constant columns. After training, ``training_findings`` adds what the
learning curves say (overfitting). Findings are plain sentences with a severity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepworks.analyses.base import Analysis, Context, register_analysis
from deepworks.core.task import has_tag
from deepworks.data.datasets import first_rows
from deepworks.train.checkpoint import write_json

# The audit reads at most this many examples per split.
MAX_ROWS = 50_000
IMBALANCE = 5.0  # largest / smallest class count that earns a warning


def _keys(x: np.ndarray, decimals: int | None) -> list[bytes]:
    rows = x.reshape(len(x), -1)
    if decimals is not None and rows.dtype.kind == "f":
        rows = np.round(rows, decimals) + 0.0  # + 0.0: -0.0 and 0.0 hash alike
    return [row.tobytes() for row in np.ascontiguousarray(rows)]


def audit(bundle: Any) -> dict[str, Any]:
    schema = bundle.schema
    split = {
        name: first_rows(getattr(bundle, name), MAX_ROWS) for name in ("train", "valid", "test")
    }
    train_x, train_y = (t.numpy() for t in split["train"])
    findings: list[dict[str, str]] = []
    stats: dict[str, Any] = {"rows": {k: len(v[0]) for k, v in split.items()}}

    def say(check: str, severity: str, message: str) -> None:
        findings.append({"check": check, "severity": severity, "message": message})

    if has_tag(schema.task, "classifies") and schema.classes:
        counts = np.bincount(train_y.astype(int), minlength=len(schema.classes))
        stats["class_counts"] = dict(zip(schema.classes, counts.tolist(), strict=True))
        ratio = counts.max() / max(counts.min(), 1)
        if ratio > IMBALANCE and has_tag(schema.task, "labelled"):  # not anomalies' rarity
            rare = schema.classes[int(counts.argmin())]
            say(
                "class balance",
                "warning",
                f"classes are imbalanced {ratio:.0f}:1 in training (rarest: `{rare}`, "
                f"{counts.min()} examples); read balanced accuracy and per-class F1, not accuracy",
            )

    for label, decimals in (("exact", None), ("near", 2)):
        train_keys = _keys(train_x, decimals)
        repeats = len(train_keys) - len(set(train_keys))
        stats[f"{label}_duplicates_in_train"] = repeats
        if repeats:
            say(
                f"{label} duplicates",
                "info" if label == "near" else "warning",
                f"{repeats} training rows repeat an earlier one"
                + ("" if label == "exact" else " (within 0.01)"),
            )
        seen = set(train_keys)
        for other in ("valid", "test"):
            keys = _keys(split[other][0].numpy(), decimals)
            leaked = sum(k in seen for k in keys)
            stats[f"{label}_{other}_rows_in_train"] = leaked
            if leaked:
                say(
                    "leakage",
                    "warning",
                    f"{leaked} of {len(keys)} {other} rows ({leaked / len(keys):.0%}) are "
                    f"{'identical to' if label == 'exact' else 'within 0.01 of'} training rows: "
                    f"the {other} metrics overstate how the model does on new data. Remove "
                    "duplicates before splitting",
                )
        if any(f["check"] == "leakage" for f in findings):
            break  # near leakage adds nothing once exact leakage is reported

    encoder = schema.encoder
    if encoder.get("kind") == "table":
        for column, empty in encoder.get("missing", {}).items():
            say(
                "missing values",
                "info",
                f"column `{column}` has {empty} empty training cells, filled with the median "
                "(numbers) or an `other` slot (categories)",
            )
        for column in encoder.get("constant", []):
            say(
                "constant column",
                "info",
                f"column `{column}` holds one value in training: it cannot help; drop it",
            )
    return {"findings": findings, "stats": stats}


# Valid loss this much above its best by the end, while training loss kept falling: overfitting.
RISE = 0.10


def training_findings(history: list[dict[str, Any]], kept_epoch: int | None) -> list[dict]:
    """What the learning curves say: a valid loss that rose while the training loss fell.
    ``kept_epoch``: the epoch whose weights early stopping restored, if it did."""
    losses = [(r["train_loss"], r.get("valid_loss")) for r in history]
    if len(losses) < 3 or any(v is None for _, v in losses):
        return []
    valid = [v for _, v in losses]
    best = int(np.argmin(valid))
    last_train, last_valid = losses[-1]
    if (
        best < len(valid) - 1
        and last_valid > valid[best] * (1 + RISE)
        and (last_train < losses[best][0])
    ):
        kept = f" (early stopping kept epoch {kept_epoch})" if kept_epoch else ""
        return [
            {
                "check": "overfitting",
                "severity": "warning",
                "message": (
                    f"validation loss rose {last_valid / valid[best] - 1:.0%} after epoch "
                    f"{best + 1} while training loss kept falling ({last_train:.3f} vs "
                    f"{last_valid:.3f} valid): the model is overfitting{kept}. Try fewer "
                    "epochs, `train.early_stopping`, more dropout or augmentation"
                ),
            }
        ]
    return []


@register_analysis("audit", order=90)  # last: it gathers what the others found
class Audit(Analysis):
    """The data audit before training (audit.json), and after it what the learning curves and
    the other analyses found."""

    def check(self, ctx: Context) -> None:
        if ctx.main:  # the other ranks only train
            self.report = audit(ctx.bundle)
            write_json(ctx.folder / "audit.json", self.report)

    def run(self, ctx: Context) -> None:
        es = ctx.cfg.train.early_stopping
        kept = ctx.state.best_epoch if es and es.restore_best else None
        self.report["findings"] += training_findings(ctx.history, kept) + ctx.findings
        write_json(ctx.folder / "audit.json", self.report)
