"""A run's explanations: Captum attributions for raw inputs, written as pictures or returned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deepworks.core.errors import DataError
from deepworks.data.encoders import inputs_of


class Explaining:
    """``Run.explain`` and ``Run.explain_to`` (the run's model, schema and encoder)."""

    def explain(
        self,
        inputs: Any,
        methods: list[str] | None = None,
        target: str | None = None,
        batch_size: int = 16,
    ):
        """Why the model decided as it did: Captum attributions for each input (every method
        that fits the model when ``methods`` is None), with integrated gradients' completeness
        gap; attention maps for transformers. ``target`` explains one class for every input
        (default: each input's own prediction).

        >>> e = deepworks.load("runs/digits").explain("digit.png")  # doctest: +SKIP
        >>> e.attributions["integrated-gradients"].shape, e.delta  # doctest: +SKIP
        """
        from deepworks.explain import Explanation

        parts = list(self._explanations(inputs, methods, target, batch_size))
        if not parts:
            raise DataError("no inputs to explain")
        return Explanation.concat(parts)

    def explain_to(
        self,
        inputs: Any,
        folder: str | Path,
        methods: list[str] | None = None,
        target: str | None = None,
        batch_size: int = 16,
        limit: int | None = None,
    ) -> list[Path]:
        """``explain`` a batch at a time, writing the pictures (overlays PNG, tokens.html,
        feature bars) and explanations.csv into ``folder``; returns the files written."""
        from deepworks.explain import WRITERS

        if "draws-explanations" in self.task.tags:  # its own attention maps say what it looked at
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            return self.task.explain_to(self.model, inputs, folder, limit)
        writer = WRITERS.get(inputs_of(self.schema.encoder))(Path(folder), self.schema)
        for part in self._explanations(inputs, methods, target, batch_size, limit):
            writer.add(part)
        return writer.close()

    def _explanations(
        self,
        inputs: Any,
        methods: list[str] | None,
        target: str | None,
        batch_size: int,
        limit: int | None = None,
    ) -> Iterator[Any]:
        from deepworks.explain import check_methods, explain_batches
        from deepworks.explain.explainer import check_task

        check_task(self.schema, self.folder.id)
        if batch_size < 1:
            raise DataError(f"batch size {batch_size}; give at least 1")
        methods = check_methods(self.model, inputs_of(self.schema.encoder), methods)
        ids, batches = self.encoder.batches(inputs, batch_size, self.schema)
        if limit is not None:  # only the first `limit` inputs
            ids = ids[:limit]
            batches = _first(batches, limit)
        attention = "attention" in self.model.tags
        yield from explain_batches(
            self.model, self.schema, ids, batches, methods, target, attention
        )


def _first(batches: Iterator[Any], n: int) -> Iterator[Any]:
    """The batches cut after ``n`` rows."""
    for x in batches:
        if n <= 0:
            return
        yield x[:n]
        n -= len(x)
