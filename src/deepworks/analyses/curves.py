"""The learning curves of every run: learning_curves.png from the epochs' records."""

from __future__ import annotations

from deepworks import plots
from deepworks.analyses.base import Analysis, Context, register_analysis


# First: it needs only the history, so a helper draws it while the others compute.
@register_analysis("learning-curves", order=5)
class LearningCurves(Analysis):
    """Training and validation loss and the task's main metric by epoch."""

    def run(self, ctx: Context) -> None:
        plots.learning_curves(ctx.history, ctx.folder / "learning_curves.png", ctx.task.main_metric)
