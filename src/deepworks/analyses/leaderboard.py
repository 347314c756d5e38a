"""The leaderboard every run ends with: the deep model beside the baselines (``baselines``)
fit on the same split, ranked by `evaluate.main_metric`, with a verdict that says plainly
whether the network earned its keep."""

from __future__ import annotations

import os
import weakref
from typing import Any

from torch import nn

from deepworks.analyses.base import Analysis, Context, register_analysis
from deepworks.analyses.baselines import (
    ALWAYS,
    Plan,
    baseline_rows,
    fit_into_cache,
    fitting,
    plan,
    ranked_by,
)
from deepworks.core import cpus
from deepworks.core.helpers import Helpers
from deepworks.core.task import Task
from deepworks.train.checkpoint import write_json


def leaderboard(
    task: Task,
    model: nn.Module,
    model_name: str,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    baselines: list[dict[str, Any]],
    teacher: dict[str, Any] | None = None,
    main: str | None = None,
) -> dict[str, Any]:
    """The deep model's row, the task's own baselines' rows, ``baselines`` (fit on the same
    split by ``baseline_rows``) and a distilled model's teacher, ranked on the test split's
    ``main`` metric (`evaluate.main_metric`; the task's own when a baseline cannot be scored
    on it), with the verdict."""
    main, note = ranked_by(task, main)
    deep_row = {
        "model": f"{model_name} (deep)",
        main: metrics["test"].get(main),
        "train_seconds": round(sum(r.get("seconds", 0.0) for r in history), 2),
        "size_bytes": sum(t.numel() * t.element_size() for t in model.state_dict().values()),
    }
    rows = [deep_row] if teacher is None else [deep_row, teacher]
    for prefix in task.own_baselines:  # baselines the task scores itself, e.g. seasonal naive
        value = metrics["test"].get(f"{prefix}_{main}")
        if isinstance(value, int | float):
            name = prefix.replace("_", "-")
            described = metrics["test"].get(f"{prefix}_model")
            name += f" ({described})" if isinstance(described, str) else ""
            seconds = metrics["test"].get(f"{prefix}_fit_seconds")
            rows.append({"model": name, main: value, "train_seconds": seconds, "size_bytes": None})
    rows += baselines
    lower = main in task.lower_is_better
    ranked = sorted(
        (r for r in rows if r[main] is not None), key=lambda r: r[main], reverse=not lower
    )
    others = [r for r in ranked if r is not deep_row and r is not teacher]
    deep = deep_row[main]
    better = [r for r in others if deep is None or not _beats(deep, r[main], lower)]
    trivial = next((r for r in better if r["model"] == ALWAYS), None)
    if trivial is not None:  # the loudest thing to say: it learned nothing a prior does not know
        verdict = (
            f"the deep model does no better than the trivial baseline (always the majority "
            f"class / the training mean) on test {main}: {deep:.4f} vs "
            f"{trivial[main]:.4f}"
        )
    elif better:
        verdict = (
            f"{better[0]['model']} beats or matches the deep model on test {main}: "
            f"{better[0][main]:.4f} vs " + (f"{deep:.4f}" if deep is not None else "none")
        )
    else:
        verdict = f"the deep model has the best test {main}" if len(rows) > 1 else ""
    board = {"metric": main, "lower_is_better": lower, "rows": ranked, "verdict": verdict}
    return board | ({"note": note} if note else {})


def _beats(value: float, deep: float | None, lower: bool) -> bool:
    return deep is None or (value < deep if lower else value > deep)


@register_analysis("leaderboard", order=20)
class Leaderboard(Analysis):
    """The deep model beside traditional baselines fit on the same split: leaderboard.json.
    Where a CPU is idle, the baselines are fit while the network trains, by a helper process
    at the lowest priority, which takes only the CPU time training leaves (the same rows: a
    baseline's seed fixes what it learns, whatever process fits it)."""

    def __init__(self) -> None:
        self._plan: Plan | None = None
        self._aside: Helpers | None = None
        self._fitted: list[str] = []

    def check(self, ctx: Context) -> None:  # a baseline name that does not fit fails now
        fitting(ctx.bundle.schema.task, ctx.bundle.schema.modality, ctx.cfg.evaluate.baselines)

    def start(self, ctx: Context) -> None:
        self._plan = plan(
            ctx.task, ctx.bundle, ctx.cfg.evaluate.baselines, ctx.cfg.seed,
            ctx.cfg.evaluate.main_metric, ctx.folder.parent / ".cache" / "baselines",
        )  # fmt: skip
        self._fitted = self._plan.unfitted()
        if self._fitted and cpus.available_cpus() > 1 and cpus.idle_cpus() >= 1:
            self._aside = Helpers(1, "deepworks.analyses.baselines:warm", nice=19)
            # ended with the board, or with this analysis if the run fails before it
            self._release = weakref.finalize(self, _release, self._aside)
            self._aside.submit(
                fit_into_cache, self._plan, self._fitted, cpus.available_cpus(), os.nice(0)
            )

    def run(self, ctx: Context) -> None:
        assert self._plan is not None, "start() plans the baselines before training"
        if self._aside is not None:
            # Still importing, or others now keep the CPUs busy (its low priority would then
            # starve it): what it has not finished is fit here.
            if not self._aside.ready() or cpus.idle_cpus() < 1:
                self._aside.stop()
            self._aside.wait()
            self._release()
        board = leaderboard(
            ctx.task,
            ctx.model,
            ctx.cfg.model.name,
            ctx.metrics,
            ctx.history,
            baseline_rows(self._plan, self._fitted),
            teacher=ctx.teacher_row,
            main=ctx.cfg.evaluate.main_metric,
        )
        write_json(ctx.folder / "leaderboard.json", board)


def _release(helper: Helpers) -> None:
    """End a baselines helper now, whatever it was doing."""
    helper.stop()
    helper.close()
