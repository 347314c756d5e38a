"""The data audit, run before training: what in the data could make the metrics lie.

Checks: class balance; exact duplicates within the training split and train / test and
train / valid leakage (test rows that also appear in training), compared on the rows as read —
every column, before encoding — where the data keeps them (tables, texts), else on the encoded
inputs, where near duplicates (equal after rounding to 0.01) are also counted if some input is
continuous; a table whose columns allow few distinct rows shares rows by chance, and is told
so rather than warned of leakage; and, for tables, empty cells and constant columns. After
training, ``training_findings`` adds what the learning curves say (overfitting). Findings are
plain sentences with a severity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

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


def _row_keys(frame: Any) -> list[int]:
    import pandas as pd

    return pd.util.hash_pandas_object(frame.astype(str), index=False).tolist()


def _possible_rows(frame: Any) -> float:
    """How many different rows the table's columns could make (the product of their distinct
    values): when it is not far above the row count, shared rows are expected, not leakage."""
    return float(np.prod([max(frame[c].nunique(dropna=False), 1) for c in frame.columns]))


def _continuous(x: np.ndarray) -> bool:
    """Whether some input takes many values: the only space where "near" means something."""
    flat = x.reshape(len(x), -1)
    return flat.dtype.kind == "f" and any(
        len(np.unique(flat[:, j])) > 20 for j in range(min(flat.shape[1], 256))
    )


def _duplicates(say, stats, keys: dict, label: str, compared: str, possible: float | None):
    """Repeats within training, and valid / test rows found in training, by ``keys``."""
    train = keys["train"]
    repeats = len(train) - len(set(train))
    stats[f"{label}_duplicates_in_train"] = repeats
    # A low-cardinality table repeats rows by chance: different records, identical values.
    by_chance = possible is not None and possible < 20 * len(train)
    if repeats:
        say(
            f"{label} duplicates",
            "info" if label == "near" or by_chance else "warning",
            f"{repeats} training rows repeat an earlier one (compared on {compared})",
        )
    seen = set(train)
    for other in ("valid", "test"):
        leaked = sum(k in seen for k in keys[other])
        stats[f"{label}_{other}_rows_in_train"] = leaked
        if not leaked:
            continue
        share = f"{leaked} of {len(keys[other])} {other} rows ({leaked / len(keys[other]):.0%})"
        if by_chance:
            say(
                "shared rows",
                "info",
                f"{share} equal a training row on {compared}; the table's columns allow only "
                f"about {possible:,.0f} different rows, so different records share values — "
                "expected, not leakage",
            )
        else:
            say(
                "leakage",
                "warning",
                f"{share} equal a training row on {compared}: the {other} metrics overstate "
                "how the model does on new data. Remove duplicates before splitting",
            )


def audit(bundle: Any) -> dict[str, Any]:
    schema = bundle.schema
    split = {
        name: first_rows(getattr(bundle, name), MAX_ROWS) for name in ("train", "valid", "test")
    }
    train_x = split["train"][0].numpy()
    targets = split["train"][1]  # boxes per image (detection) are no array: not counted
    train_y = targets.numpy() if isinstance(targets, torch.Tensor) else None
    findings: list[dict[str, str]] = []
    stats: dict[str, Any] = {"rows": {k: len(v[0]) for k, v in split.items()}}

    def say(check: str, severity: str, message: str) -> None:
        findings.append({"check": check, "severity": severity, "message": message})

    if has_tag(schema.task, "classifies") and schema.classes and train_y is not None:
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

    raw = getattr(bundle, "raw_rows", None)
    if raw is not None:  # rows as read, every column: two records, not two encodings, alike
        _duplicates(
            say,
            stats,
            {k: _row_keys(v.head(MAX_ROWS)) for k, v in raw.items()},
            "exact",
            "all their columns as read",
            _possible_rows(raw["train"]),
        )
    else:
        for label, decimals in (("exact", None), ("near", 2)):
            if label == "near" and not _continuous(train_x):
                break  # rounding means nothing in a space of a few discrete values
            keys = {k: _keys(v[0].numpy(), decimals) for k, v in split.items()}
            compared = "the encoded inputs" + ("" if label == "exact" else ", to within 0.01")
            _duplicates(say, stats, keys, label, compared, None)
            if any(f["check"] == "leakage" for f in findings):
                break  # near leakage adds nothing once exact leakage is reported

    encoder = schema.encoder
    if encoder.get("kind") == "table":
        for column, role in encoder.get("ignored", {}).items():
            why = "unique in every row: an ID" if role == "id" else "dropped by `data.columns`"
            say("column roles", "info", f"column `{column}` is {why}; it is not a feature")
        for column in encoder.get("dates", []):
            say(
                "column roles",
                "info",
                f"column `{column}` reads as dates: encoded as year, month, day, day of week "
                "and day of year, month and weekday also on a circle (`data.columns` can say "
                "otherwise)",
            )
        for column, spec in encoder.get("texts", {}).items():
            say(
                "column roles",
                "info",
                f"column `{column}` reads as free text: its {len(spec['idf'])} most frequent "
                "words (the text encoder's vocabulary) are TF-IDF features (`data.columns` can "
                "say otherwise)",
            )
        for column, count in encoder.get("capped", {}).items():
            kept = len(encoder["categorical"][column])
            say(
                "column roles",
                "info",
                f"column `{column}` has {count:,} categories: the {kept} most frequent are "
                "one-hot encoded, the rest share one slot (`data.max_categories`)",
            )
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
