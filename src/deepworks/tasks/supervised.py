"""Classification (binary and multi-class) and regression: one shared supervised step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from deepworks.core.metric import StreamMetric


@register_task("classification")
class Classification(Task):
    """Predict one of N classes; cross-entropy on logits."""

    main_metric = "accuracy"
    # calibration errors shrink as the probabilities get honest
    lower_is_better = frozenset({"loss", "ece", "ece_calibrated"})
    tags = frozenset(
        {
            "supervised",
            "labelled",
            "classifies",
            "explainable",
            "distillable",
            "cross-validates",
            "calibrated",
        }
    )
    slice_metrics = ("accuracy", "f1", "recall")
    epoch_metrics = frozenset({"accuracy", "balanced_accuracy", "precision", "recall", "f1"})
    final_metric_names = (
        "ece",
        "ece_calibrated",
        "temperature",
        "target_precision",
        "selective_threshold",
        "selective_coverage",
        "selective_precision",
    )

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)

    def metric_factories(self) -> dict[str, Callable[[], StreamMetric]]:
        from deepworks.metrics import confusion, roc

        n = self.schema.n_outputs
        confusion_scores = {
            k: lambda k=k: confusion.ConfusionScores(n, frozenset({k})) for k in confusion.SCORES
        }
        curve_scores = {k: lambda k=k: roc.ThresholdScores(n, frozenset({k})) for k in roc.SCORES}
        return confusion_scores | curve_scores

    def metrics(self, names: set[str] | None = None):
        """The scores of the confusion matrix from one matrix, ROC and PR AUC from one
        threshold histogram: one metric a kind, one update a batch each."""
        from deepworks.core.metric import MetricSet
        from deepworks.metrics import confusion, roc

        n = self.schema.n_outputs
        asked = confusion.SCORES | roc.SCORES if names is None else names
        table, curves = frozenset(asked & confusion.SCORES), frozenset(asked & roc.SCORES)
        if not curves:  # per epoch, slices: one metric, no set around it
            return confusion.ConfusionScores(n, table)
        parts = {"curves": roc.ThresholdScores(n, curves)}
        return MetricSet(parts | ({"table": confusion.ConfusionScores(n, table)} if table else {}))

    def metric_input(self, output: torch.Tensor) -> torch.Tensor:
        return output.softmax(dim=-1)

    def distillation_loss(
        self, student: torch.Tensor, teacher: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        """KL between the temperature-softened distributions, scaled by T² (Hinton et al.)."""
        t = temperature
        soft = F.kl_div(
            F.log_softmax(student / t, -1), F.softmax(teacher / t, -1), reduction="batchmean"
        )
        return soft * (t * t)

    def summarize(self, values: dict[str, torch.Tensor]) -> dict[str, Any]:
        out = super().summarize(values)
        if "f1_per_class" in out:
            out["f1_per_class"] = dict(
                zip(self.schema.classes or [], out["f1_per_class"], strict=True)
            )
        return out

    def postprocess(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        proba = output.softmax(dim=-1)
        return {"label": proba.argmax(dim=-1), "proba": proba}

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        """The class, one calibrated probability per class, and, below the confidence
        threshold chosen on valid, "refer to a human" as the decision."""
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame({"input": ids})
        classes = self.schema.classes or []
        valid = metrics.get("valid", {})
        proba = out["proba"] if out else torch.zeros(0, len(classes))
        if "temperature" in valid:  # calibrated on the validation split
            proba = (proba.clamp_min(1e-12).log() / valid["temperature"]).softmax(-1)
        frame["prediction"] = [classes[i] for i in proba.argmax(-1).tolist()]
        for j, name in enumerate(classes):
            frame[f"proba_{name}"] = proba[:, j].numpy()
        if "selective_threshold" in valid:  # too unsure: a person decides
            confidence = proba.max(-1).values.numpy() if len(proba) else np.zeros(0)
            frame["confidence"] = confidence
            frame["decision"] = np.where(
                confidence >= valid["selective_threshold"], frame["prediction"], "refer to a human"
            )
        return frame

    def flag_novel(self, frame: Any, reasons: list[str]) -> Any:
        """An input unlike anything in training is referred to a human, however confident
        the softmax is: it was never trained to know it does not know."""
        import numpy as np

        frame = super().flag_novel(frame, reasons)
        if "decision" in frame.columns:
            novel = np.asarray([bool(r) for r in reasons], dtype=bool)
            frame["decision"] = np.where(novel, "refer to a human", frame["decision"])
        return frame

    # -- decision support ---------------------------------------------------------------
    @torch.no_grad()  # not inference_mode: the temperature is fit through these logits
    def logits(self, model: torch.nn.Module, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        from deepworks.data.datasets import first_rows

        model.eval()
        x, y = first_rows(data)
        device = next(model.parameters()).device
        out = torch.cat([model(chunk.to(device)).float().cpu() for chunk in x.split(256)])
        return out, y

    def final_metrics(self, model: torch.nn.Module, bundle: Any, seed: int = 0) -> dict:
        """Calibration (ECE before and after temperature scaling, T fit on valid) and selective
        prediction (the confidence threshold for `target_precision`, chosen on valid)."""
        from deepworks.metrics import calibration as cal

        split = {name: self.logits(model, getattr(bundle, name)) for name in ("valid", "test")}
        temperature = cal.fit_temperature(*split["valid"])
        out: dict[str, dict] = {}
        threshold = 0.0
        for name, (logits, y) in split.items():
            raw, scaled = logits.softmax(-1), (logits / temperature).softmax(-1)
            confidence, guess = scaled.max(-1)
            correct = (guess == y).numpy().astype(float)
            if name == "valid":
                threshold = cal.selective_threshold(
                    confidence.numpy(), correct, self.target_precision
                )
            coverage, precision = cal.coverage_and_precision(confidence.numpy(), correct, threshold)
            out[name] = {
                "ece": cal.expected_calibration_error(raw, y),
                "ece_calibrated": cal.expected_calibration_error(scaled, y),
                "temperature": temperature,
                "target_precision": self.target_precision,
                "selective_threshold": threshold,
                "selective_coverage": coverage,
                "selective_precision": precision,
            }
        return out

    def plots(self, model: torch.nn.Module, bundle: Any, folder, metrics: dict) -> None:
        from deepworks import plots

        logits, y = self.logits(model, bundle.test)
        temperature = metrics["valid"]["temperature"]
        raw, proba = logits.softmax(-1).numpy(), (logits / temperature).softmax(-1).numpy()
        plots.reliability(raw, proba, y.numpy(), folder / "calibration.png")
        curves = plots.class_curves(proba, y.numpy(), self.schema.classes or [])
        plots.roc_pr(curves, folder / "roc_pr.png")
        plots.confusion_matrix(
            metrics["test"]["confusion_matrix"],
            self.schema.classes or [],
            folder / "confusion_matrix.png",
            "test confusion matrix",
        )


@register_task("regression")
class Regression(Task):
    """Predict a number; the model learns the standardized target, metrics use real units."""

    main_metric = "rmse"
    tags = frozenset({"supervised", "labelled", "explainable", "distillable", "cross-validates"})
    slice_metrics = ("rmse", "mae")
    lower_is_better = frozenset({"loss", "mse", "rmse", "mae"})
    epoch_metrics = frozenset({"mse", "rmse", "mae", "r2"})

    def _scale(self) -> tuple[float, float]:
        return self.schema.target_scale or (0.0, 1.0)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean, std = self._scale()
        return F.mse_loss(output.squeeze(-1), (target - mean) / std)

    def metric_factories(self) -> dict[str, Callable[[], StreamMetric]]:
        from deepworks.metrics.errors import ErrorScores

        return {k: lambda k=k: ErrorScores({k: k}) for k in ("mse", "rmse", "mae", "r2")}

    def metrics(self, names: set[str] | None = None):
        """Every error from one set of sums."""
        from deepworks.metrics.errors import ErrorScores

        known = set(self.metric_factories())
        return ErrorScores({k: k for k in sorted(known if names is None else known & names)})

    def metric_input(self, output: torch.Tensor) -> torch.Tensor:
        mean, std = self._scale()
        return output.squeeze(-1) * std + mean

    def postprocess(self, output: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"value": self.metric_input(output)}
