"""The leaderboard every run ends with: the deep model beside the baselines (``baselines``)
fit on the same split, ranked by `evaluate.main_metric`, with a verdict that says plainly
whether the network earned its keep."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepworks.analyses.base import Analysis, Context, register_analysis
from deepworks.analyses.baselines import Plan, baseline_rows, fitting, plan, ranked_by
from deepworks.core import cpus, helpers
from deepworks.core.helpers import Helpers
from deepworks.core.task import Task
from deepworks.traditional import WARM
from deepworks.traditional.estimators import ALWAYS, BASELINES
from deepworks.traditional.fit import fit_outputs
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
    The baselines the cache lacks are fit by a helper process that has imported only
    scikit-learn (``traditional``, started with the run where a CPU is idle): while the network
    trains where training leaves cores free, else from the end of training on, while the
    analyses before this one run. The same rows either way: a baseline's seed fixes what it
    learns, whatever process fits it."""

    def __init__(self) -> None:
        self._plan: Plan | None = None
        self._aside: Helpers | None = None  # the helper given the fit, once it is
        self._movable: list[str] = []  # what the cache lacks and a helper may fit

    def check(self, ctx: Context) -> None:  # a baseline name that does not fit fails now
        fitting(ctx.bundle.schema.task, ctx.bundle.schema.modality, ctx.cfg.evaluate.baselines)

    def start(self, ctx: Context) -> None:
        self._plan = plan(
            ctx.task, ctx.bundle, ctx.cfg.evaluate.baselines, ctx.cfg.seed,
            ctx.cfg.evaluate.main_metric, ctx.folder.parent / ".cache" / "baselines",
        )  # fmt: skip
        self._movable = [n for n in self._plan.unfitted() if not BASELINES.get(n).in_run_process]
        if self._movable:  # the cores training leaves: its threads', or one to feed a GPU
            busy = torch.get_num_threads() if ctx.device.type == "cpu" else 1
            spare = int(cpus.idle_cpus() - busy)
            if spare >= 1:
                self._hand_aside(spare, beside_training=True)

    def trained(self, ctx: Context) -> None:
        if self._aside is None:  # the cores this process leaves: it explains, draws, scores
            self._hand_aside(max(1, cpus.available_cpus() - 1))

    def _hand_aside(self, jobs: int, beside_training: bool = False) -> None:
        assert self._plan is not None, "start() plans the baselines before training"
        helper = helpers.shared(WARM, count=1) if self._movable else None
        if helper is not None:
            helper.submit(fit_outputs, *self._plan.fit_job(self._movable, jobs, beside_training))
            self._aside = helper

    def run(self, ctx: Context) -> None:
        assert self._plan is not None, "start() plans the baselines before training"
        if self._aside is not None:
            if not self._aside.ready():  # still importing: this process fits them sooner
                self._aside.stop()
            self._aside.wait()
        board = leaderboard(
            ctx.task,
            ctx.model,
            ctx.cfg.model.name,
            ctx.metrics,
            ctx.history,
            baseline_rows(self._plan, self._movable if self._aside else []),
            teacher=ctx.teacher_row,
            main=ctx.cfg.evaluate.main_metric,
        )
        write_json(ctx.folder / "leaderboard.json", board)
