"""Series augmentation: Gaussian jitter, amplitude scaling and time warping, in standard
units."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from deepworks.config import AugmentConfig
from deepworks.core.errors import ConfigError
from deepworks.core.schema import Schema
from deepworks.data.augment import Batch, on_batches, register_augmenter


@register_augmenter("series", ("jitter", "scale", "warp"))
def series_augment(cfg: AugmentConfig, schema: Schema):
    return on_batches(_series(cfg, schema))


def _series(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    if schema.horizon and (cfg.scale or cfg.warp):  # a forecast: targets share the scale
        raise ConfigError(
            "data.augment.scale / warp change a window in ways its forecast targets would not "
            "follow; for forecasting use jitter"
        )

    def augment(batch: Batch) -> Batch:
        x, y = batch  # (N, steps, features)
        if cfg.jitter:
            x = x + cfg.jitter * torch.randn(x.shape)
        if cfg.scale:
            x = x * (1 + cfg.scale * torch.randn(len(x), 1, x.shape[2]))
        if cfg.warp:
            x = torch.stack([_warp(series, cfg.warp) for series in x])
        return x, y

    return augment


def _warp(series: torch.Tensor, amount: float) -> torch.Tensor:
    """Window warping (Le Guennec et al. 2016): stretch or squeeze a random quarter of the
    series by ``1 ± amount``, then resample the whole back to its length."""
    steps = series.shape[0]
    width = max(2, steps // 4)
    start = int(torch.randint(0, steps - width + 1, ()))
    factor = 1 + amount if torch.rand(()) < 0.5 else 1 - amount
    seg = series[start : start + width].T[None]  # (1, features, width)
    seg = F.interpolate(seg, size=max(2, round(width * factor)), mode="linear")[0].T
    joined = torch.cat([series[:start], seg, series[start + width :]]).T[None]
    return F.interpolate(joined, size=steps, mode="linear")[0].T
