"""Statistical forecasters beside a deep forecast: Holt-Winters exponential smoothing (ETS)
from statsmodels, fit the way a forecaster would fit it.

Candidates — additive trend, damped or not; additive season, or multiplicative where every
value is positive; no season where the training span holds fewer than two — are fit on the
training span, and the one with the lowest AIC among those whose optimizer converged is kept
(a fit that converged nowhere falls back to the simplest model, and says so). For every forecast
origin of a split the chosen model is then run, with the same parameters and initial states and
no refit, over the series up to that origin (once over the whole series, forecasting from the
states at each origin): the rolling evaluation the deep model gets over the same windows.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EtsChoice:
    trend: str | None
    damped: bool
    seasonal: str | None
    aic: float
    converged: bool

    @property
    def name(self) -> str:
        trend = "none" if not self.trend else ("damped " if self.damped else "") + self.trend
        return f"trend {trend}, season {self.seasonal or 'none'}"


def _candidates(values: np.ndarray, season: int) -> list[dict[str, Any]]:
    seasonal: list[str | None] = [None]
    if season > 1 and len(values) >= 2 * season:
        seasonal = ["add", "mul"] if (values > 0).all() else ["add"]
    return [
        {"trend": "add", "damped_trend": damped, "seasonal": s}
        for s in seasonal
        for damped in (False, True)
    ]


def _model(values: np.ndarray, season: int, spec: dict[str, Any], **known: Any):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    return ExponentialSmoothing(
        values,
        seasonal_periods=season if spec["seasonal"] else None,
        **spec,
        **known,
    )


def fit_ets(values: np.ndarray, season: int) -> tuple[Any, dict[str, Any], EtsChoice]:
    """The lowest-AIC converged Holt-Winters fit on ``values``; returns (fit, spec, choice)."""
    best = None
    for spec in _candidates(values, season):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = _model(values, season, spec, initialization_method="estimated").fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
        converged = bool(fit.mle_retvals.get("success", True)) if fit.mle_retvals else True
        converged &= not any("converge" in str(w.message).lower() for w in caught)
        aic = float(fit.aic) if np.isfinite(fit.aic) else np.inf
        key = (not converged, aic)  # converged fits first, then by AIC
        if best is None or key < best[0]:
            best = (key, fit, spec, converged)
    if best is None:
        raise ValueError("no exponential smoothing model could be fit to the training span")
    _, fit, spec, converged = best
    choice = EtsChoice(
        spec["trend"], spec["damped_trend"], spec["seasonal"], float(fit.aic), converged
    )
    return fit, spec, choice


def run_fixed(fit: Any, spec: dict[str, Any], values: np.ndarray, season: int) -> Any:
    """The fitted model, parameters and initial states fixed (no refit), run over ``values``."""
    p = fit.params
    known = {"initial_level": p["initial_level"]}
    if spec["trend"]:
        known["initial_trend"] = p["initial_trend"]
    if spec["seasonal"]:
        known["initial_seasonal"] = p["initial_seasons"]
    model = _model(values, season, spec, initialization_method="known", **known)
    fixed = {
        "smoothing_level": p["smoothing_level"],
        "smoothing_trend": p.get("smoothing_trend") if spec["trend"] else None,
        "smoothing_seasonal": p.get("smoothing_seasonal") if spec["seasonal"] else None,
        "damping_trend": p.get("damping_trend") if spec["damped_trend"] else None,
    }
    fixed = {k: v for k, v in fixed.items() if v is not None and np.isfinite(v)}
    return model.fit(optimized=False, **fixed)


def rolled(whole: Any, horizon: int, origins: list[int]) -> np.ndarray:
    """(origins, horizon) forecasts of ``whole`` (``run_fixed`` over the whole series), each
    from the series up to its origin: its simulation from the origin with no errors, the
    forecast recursion from the states there — the same numbers as a model run over
    ``values[:origin]`` (to 1e-12) at a thirtieth of the time."""
    no_errors = np.zeros((horizon, 1))
    return np.stack(
        [
            np.asarray(whole.simulate(horizon, anchor=t, random_errors=no_errors)).reshape(horizon)
            for t in origins
        ]
    )


def ets_forecasts(
    span: Any, season: int, horizon: int
) -> tuple[dict[str, np.ndarray], float, EtsChoice]:
    """{split: (origins, horizon) forecasts}, the fitting seconds, and the model chosen."""
    values = np.asarray(span.values, dtype=np.float64)
    start = time.perf_counter()
    fit, spec, choice = fit_ets(values[: span.train_end], season)
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():  # the fixed-parameter runs only filter: nothing to fit
        warnings.simplefilter("ignore")
        whole = run_fixed(fit, spec, values, season)  # once, for every split's origins
        out = {split: rolled(whole, horizon, origins) for split, origins in span.origins.items()}
    return out, seconds, choice
