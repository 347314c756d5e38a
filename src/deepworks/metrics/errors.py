"""Errors of numeric predictions — MSE, RMSE, MAE, R², MAPE, sMAPE, MASE — from one set of
running sums, in one update a batch.

The definitions are torchmetrics' (a test holds them equal to its metrics and close to
scikit-learn's): MAPE divides each error by |target| (at least 1.17e-6), sMAPE by
(|target| + |prediction|) / 2, MASE is the MAE over a scale (the in-sample seasonal-naive
MAE the forecaster hands in); R² is 1 − residual / total sum of squares, and, as
scikit-learn reports it, 1 for a constant target predicted exactly and 0 otherwise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from deepworks.core.metric import StreamMetric

EPSILON = 1.17e-6
KINDS = frozenset({"mse", "rmse", "mae", "r2", "mape", "smape", "mase"})


class ErrorScores(StreamMetric):
    """``names`` maps each reported name to its kind (e.g. ``{"seasonal_naive_mae": "mae"}``);
    ``column`` picks one forecaster's predictions from the last axis; everything else is
    flattened (a forecast's horizon, an autoencoder's pixels)."""

    def __init__(
        self, names: dict[str, str], column: int | None = None, mase_scale: float = 1.0
    ) -> None:
        super().__init__()
        unknown = set(names.values()) - KINDS
        if unknown:
            raise ValueError(f"unknown error kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        self.names, self.column, self.mase_scale = names, column, mase_scale
        self.kinds = frozenset(names.values())
        for state in ("count", "squares", "absolute", "relative", "symmetric", "y", "y2"):
            self.add_state(state, torch.tensor(0.0, dtype=torch.float64))

    def update(self, preds: Tensor, target: Tensor) -> None:
        p = (preds if self.column is None else preds[..., self.column]).reshape(-1).double()
        y = target.reshape(-1).double()
        error = (p - y).abs()
        self.count += len(y)
        self.squares += error.square().sum()
        self.absolute += error.sum()
        if "mape" in self.kinds:
            self.relative += (error / y.abs().clamp(min=EPSILON)).sum()
        if "smape" in self.kinds:
            self.symmetric += (2 * error / (y.abs() + p.abs()).clamp(min=EPSILON)).sum()
        if "r2" in self.kinds:
            self.y += y.sum()
            self.y2 += y.square().sum()

    def value(self) -> dict[str, Tensor]:
        n = self.count.clamp(min=1)
        mse = self.squares / n
        by_kind = {
            "mse": lambda: mse,
            "rmse": lambda: mse.sqrt(),
            "mae": lambda: self.absolute / n,
            "mase": lambda: self.absolute / n / self.mase_scale,
            "mape": lambda: self.relative / n,
            "smape": lambda: self.symmetric / n,
            "r2": lambda: _r2(self.squares, self.y2 - self.y**2 / n),
        }
        return {name: by_kind[kind]().float() for name, kind in self.names.items()}


def _r2(residual: Tensor, total: Tensor) -> Tensor:
    if total > 0:
        return 1 - residual / total
    return torch.tensor(1.0 if residual == 0 else 0.0, dtype=torch.float64)
