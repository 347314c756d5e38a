"""Statistical forecasters beside a deep forecast: exponential smoothing (ETS) from statsmodels.

The model is fit once on the training span; for every forecast origin of a split it is run
(same parameters, no refit) over the series up to that origin and forecasts the horizon —
the rolling evaluation the deep model gets over the same windows.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np


def ets_forecasts(span: Any, season: int, horizon: int) -> tuple[dict[str, np.ndarray], float]:
    """{split: (origins, horizon) forecasts} from additive-trend (and, where the season is
    longer than 1, additive-seasonal) exponential smoothing, and its fitting seconds."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    values = np.asarray(span.values, dtype=np.float64)
    seasonal = season if season > 1 and span.train_end >= 2 * season else None
    with warnings.catch_warnings():  # convergence chatter; the leaderboard shows the result
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        fitted = ExponentialSmoothing(values[: span.train_end], trend=True, seasonal=seasonal).fit(
            disp=False
        )
        seconds = time.perf_counter() - start
        out = {
            split: np.stack([fitted.apply(values[:t]).forecast(horizon) for t in origins])
            for split, origins in span.origins.items()
        }
    return out, seconds
