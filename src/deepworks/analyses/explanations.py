"""Sample explanations in every run: the first test example of each class in turn, explained
into explanations/ (and the report), for tasks tagged ``explainable``."""

from __future__ import annotations

from typing import Any

from deepworks.analyses.base import Analysis, Context, register_analysis
from deepworks.data.encoders import inputs_of
from deepworks.explain import WRITERS, available, explain_batches
from deepworks.explain.explainer import example_indices


@register_analysis("explanations", order=10)
class Explanations(Analysis):
    """`evaluate.explain` test examples explained with every method that fits the model."""

    def enabled(self, cfg: Any) -> bool:
        return cfg.evaluate.explain > 0

    def run(self, ctx: Context) -> None:
        if "explainable" not in ctx.task.tags:
            return
        model, schema, data = ctx.model, ctx.bundle.schema, ctx.bundle.test
        met = ctx.task.example_inputs(model, data)  # an agent's: observations of an episode
        if met is not None:
            index = example_indices(None, ctx.cfg.evaluate.explain, len(met))
            x = met[index]
        else:
            index = example_indices(getattr(data, "y", None), ctx.cfg.evaluate.explain, len(data))
            x, _ = data.__getitems__(index)
        writer = WRITERS.get(inputs_of(schema.encoder))(ctx.folder / "explanations", schema)
        parts = explain_batches(
            model,
            schema,
            [f"test-{i}" for i in index],
            x.split(16),
            available(model, inputs_of(schema.encoder)),
            attention="attention" in model.tags,
        )
        for part in parts:
            writer.add(part)
        writer.close()
