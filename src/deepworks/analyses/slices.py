"""Per-slice metrics: the test split scored per group of a chosen column (a bias check).

A model can be good on average and poor for one group; the groups come from a column of the
data file (a feature or not), numbers with many values cut into quartiles. A gap wider than
``GAP_WARNING`` in the main metric becomes a warning in the data audit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deepworks.analyses.base import Analysis, Context, register_analysis
from deepworks.core.errors import ConfigError, did_you_mean
from deepworks.core.lazy import lazy_module
from deepworks.core.task import Task
from deepworks.data.datasets import TensorData
from deepworks.metrics.evaluator import evaluate
from deepworks.train.checkpoint import write_json
from deepworks.train.loader import make_loader

pd = lazy_module("pandas")  # imported on first use: most runs read no table

# A numeric column with more distinct values than this is cut into quartiles.
MAX_GROUPS = 10
# Main-metric spread between groups that earns a warning.
GAP_WARNING = 0.1


def check_column(bundle: Any, column: str | None) -> None:
    """Fail before training when the slice column cannot be found."""
    if column is None:
        return
    rows = getattr(bundle, "test_rows", None)
    if rows is None:
        raise ConfigError(
            f"evaluate.slices: this run's {bundle.schema.modality} data keeps no columns to "
            "slice by; slices work on table and text data"
        )
    if column not in rows.columns:
        hint = did_you_mean(column, rows.columns)
        raise ConfigError(
            f"evaluate.slices: no column `{column}` in the data.{hint} "
            f"Columns: {', '.join(map(str, rows.columns))}."
        )


def groups_of(values: pd.Series) -> tuple[pd.Series, bool]:
    """Group names per row (categorical, in the groups' natural order), and whether numbers
    were binned into quartiles."""
    numeric = pd.api.types.is_numeric_dtype(values)
    if numeric and values.nunique() > MAX_GROUPS:
        bins = pd.qcut(values, 4, duplicates="drop")
        order = [f"{c.left:.4g} to {c.right:.4g}" for c in bins.cat.categories]
        return pd.Series(pd.Categorical.from_codes(bins.cat.codes, order, ordered=True)), True
    names = values.astype(object).where(values.notna(), "(missing)").astype(str)
    return pd.Series(pd.Categorical(names, sorted(names.unique()), ordered=True)), False


def slice_metrics(
    task: Task, model: nn.Module, bundle: Any, column: str, device: Any = "cpu"
) -> dict[str, Any]:
    """Metrics of the test split per group of ``column``, and the main metric's gap."""
    rows = bundle.test_rows
    groups, binned = groups_of(rows[column])
    main = task.main_metric
    names = set(task.slice_metrics) | {main}
    test: TensorData = bundle.test
    out = []
    for name in groups.cat.categories:
        index = torch.from_numpy(np.flatnonzero((groups == name).to_numpy()))
        subset = TensorData(test.x[index], test.y[index])
        values = evaluate(model, task, make_loader(subset, 256), device, names)
        out.append({"group": name, "rows": len(index), **{k: values[k] for k in sorted(names)}})
    scores = [g[main] for g in out]
    return {
        "column": column,
        "binned": binned,
        "metric": main,
        "metrics": sorted(names),
        "groups": out,
        "gap": float(max(scores) - min(scores)) if scores else 0.0,
    }


def slice_findings(report: dict[str, Any]) -> list[dict[str, str]]:
    """A warning when the main metric differs between groups by more than ``GAP_WARNING``."""
    if report["gap"] <= GAP_WARNING or len(report["groups"]) < 2:
        return []
    metric = report["metric"]
    ranked = sorted(report["groups"], key=lambda g: g[metric])
    low, high = ranked[0], ranked[-1]
    return [
        {
            "check": "slices",
            "severity": "warning",
            "message": f"test {metric} differs by {report['gap']:.3f} between groups of "
            f"`{report['column']}`: {low[metric]:.3f} for {low['group']} ({low['rows']} rows) vs "
            f"{high[metric]:.3f} for {high['group']} ({high['rows']} rows)",
        }
    ]


@register_analysis("slices", order=40)
class Slices(Analysis):
    """The test split scored per group of `evaluate.slices`: slices.json, slices.png and the
    audit's gap warning."""

    def enabled(self, cfg: Any) -> bool:
        return cfg.evaluate.slices is not None

    def check(self, ctx: Context) -> None:
        check_column(ctx.bundle, ctx.cfg.evaluate.slices)

    def run(self, ctx: Context) -> None:
        from deepworks import plots

        slices = slice_metrics(ctx.task, ctx.model, ctx.bundle, ctx.cfg.evaluate.slices, ctx.device)
        write_json(ctx.folder / "slices.json", slices)
        ctx.findings += slice_findings(slices)
        metric = slices["metric"]
        plots.bars(
            {g["group"]: {metric: g[metric]} for g in slices["groups"]},
            ctx.folder / "slices.png",
            f"test {metric} by {slices['column']}",
        )
