"""Forecasting: a window of past values → the next H steps of the target.

Every evaluation also scores the seasonal-naive forecast (each step repeats the value one
season earlier) over the same windows and horizon, so the model is always read against it.
MASE divides the MAE by the seasonal-naive MAE on the training span: below 1 beats it there.

The model sees each window relative to its last value and predicts the change from it (as
NLinear does): a trend that carries the series beyond the training range then stays within
what the model learned, instead of pushing its inputs into values it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from deepworks.core.metric import MetricSet

ERRORS = ("mae", "rmse", "mape", "smape")  # each also scored for seasonal-naive and ETS


@register_task("forecast")
class Forecast(Task):
    """Predict the next `horizon` values of a series from a window of its past."""

    main_metric = "mase"
    own_baselines = ("seasonal_naive", "ets")
    tags = frozenset({"supervised"})
    data_hint = "forecasting needs a table of values over time"
    epoch_metrics = frozenset({"mae", "rmse", "mase"})
    final_metric_names = (*(f"ets_{name}" for name in (*ERRORS, "mase")), "ets_fit_seconds")
    final_metric_names += ("ets_model", "ets_converged", "ets_aic")

    @property
    def lower_is_better(self) -> frozenset[str]:  # every forecast error
        return frozenset({"loss", *self.metric_factories()})

    def _scale(self) -> tuple[float, float]:
        return self.schema.target_scale or (0.0, 1.0)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``output`` is in scaled units already shifted back by the window's last value."""
        mean, std = self._scale()
        return F.mse_loss(output, (target - mean) / std)

    def _forward(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The model on the window relative to its last step; the result shifted back."""
        last = x[:, -1:, :]
        return model(x - last) + last[:, :, 0]

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, y = batch
        return self.loss(self._forward(model, x), y)

    def seasonal_naive(self, x: torch.Tensor) -> torch.Tensor:
        """Step h repeats the value one season before it: window[-m + h mod m] (real units)."""
        mean, std = self._scale()
        m, horizon = self.schema.encoder["season"], self.schema.n_outputs
        index = x.shape[1] - m + torch.arange(horizon, device=x.device) % m
        return x[:, index, 0] * std + mean

    def evaluation_step(
        self, model: nn.Module, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        output = self._forward(model, x)
        mean, std = self._scale()
        preds = torch.stack([output * std + mean, self.seasonal_naive(x)], dim=-1)
        return self.loss(output, y), preds, y

    def metric_factories(self) -> dict[str, Callable[[], MetricSet]]:
        return {name: lambda name=name: self._errors({name}) for name in self._error_names()}

    def metrics(self, names: set[str] | None = None) -> MetricSet:
        """Every error of both forecasters from one set of sums each."""
        return self._errors(set(self._error_names()) if names is None else names)

    def _error_names(self) -> dict[str, tuple[str, int]]:
        """Name → (error kind, forecaster's column: 0 the model, 1 seasonal-naive)."""
        return {
            prefix + kind: (kind, column)
            for prefix, column in (("", 0), ("seasonal_naive_", 1))
            for kind in (*ERRORS, "mase")
        }

    def _errors(self, asked: set[str]) -> MetricSet:
        from deepworks.core.metric import MetricSet
        from deepworks.metrics.errors import ErrorScores

        scale = self.schema.encoder.get("mase_scale", 1.0)
        by_column: dict[int, dict[str, str]] = {}
        for name, (kind, column) in self._error_names().items():
            if name in asked:
                by_column.setdefault(column, {})[name] = kind
        parts = {str(c): ErrorScores(names, c, scale) for c, names in by_column.items()}
        return MetricSet(parts)

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """Exponential smoothing (statsmodels) over the same forecast origins: `ets_<metric>`."""
        from deepworks.tasks.ets import ets_forecasts

        if getattr(bundle, "span", None) is None:
            return {}
        try:
            forecasts, seconds, choice = ets_forecasts(
                bundle.span, self.schema.encoder["season"], self.schema.n_outputs
            )
        except (ImportError, ValueError):  # no statsmodels (the `timeseries` extra), no fit
            return {}
        out: dict[str, dict] = {}
        model_only = {k for k in self._error_names() if "naive" not in k}
        for split, values in forecasts.items():
            target = getattr(bundle, split).y
            preds = torch.as_tensor(values, dtype=torch.float32)[..., None]  # column 0: ETS
            metric = self._errors(model_only)
            metric.update(preds, target)
            out[split] = {
                **{f"ets_{k}": float(v) for k, v in metric.compute().items()},
                "ets_fit_seconds": round(seconds, 2),
                "ets_model": choice.name,  # which Holt-Winters model AIC chose
                "ets_converged": float(choice.converged),
                "ets_aic": choice.aic,
            }
        return out

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        """forecast.png: model and seasonal-naive forecasts over the test span vs actual."""
        from deepworks import plots

        x, y = bundle.test.x, bundle.test.y
        with torch.inference_mode():
            model.eval()
            forecast = self.predict(model, x)["forecast"].numpy()
        naive = self.seasonal_naive(x).numpy()
        plots.forecast(y.numpy(), forecast, naive, folder / "forecast.png", "test span")

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        """One row per future step after the series' last window, with the time it falls on
        when the series says (the encoder's id for the input)."""
        import pandas as pd

        forecast = out["forecast"][0].numpy() if out else []
        frame = pd.DataFrame({"step": range(1, len(forecast) + 1), "forecast": forecast})
        times = ids[0] if ids else None
        if isinstance(times, list) and len(times) == len(frame):
            frame.insert(1, "time", times)
        return frame

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, std = self._scale()
        return {"forecast": self._forward(model, x) * std + mean}
