"""Convolutions over time for series: the field's standard classifiers (Wang et al. 2017's FCN
and ResNet; Ismail Fawaz et al. 2020's InceptionTime), and forecasters from the same blocks.

Each takes (batch, steps, features), convolves along the steps with "same" padding (any length
works), averages over time and ends in one linear layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model

TASKS = ("classification", "regression", "forecast")


def _conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding="same", bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(),
    )


class SeriesConvNet(Model):
    """A trunk of 1-D conv blocks over (batch, channels, steps), global average pooling over
    time, and a linear head."""

    tags = frozenset({"embeds"})

    def __init__(self, trunk: nn.Module, width: int, n_outputs: int, dropout: float) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, n_outputs))

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x.transpose(1, 2)).mean(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled_features(x))


# --------------------------------------------------------------------------------- FCN
@dataclass
class FCNParams:
    channels: list[int] = field(default_factory=lambda: [128, 256, 128])
    kernels: list[int] = field(default_factory=lambda: [7, 5, 3])  # odd: "same" pads evenly
    dropout: float = 0.0


def _chain(schema: Schema, widths: list[int], block, dropout: float) -> SeriesConvNet:
    """``block(c_in, c_out, i)`` for each width in turn, from the series' features."""
    c_in, blocks = schema.input_shape[-1], []
    for i, c_out in enumerate(widths):
        blocks.append(block(c_in, c_out, i))
        c_in = c_out
    return SeriesConvNet(nn.Sequential(*blocks), c_in, schema.n_outputs, dropout)


@register_model("fcn", FCNParams, ("series",), "fully convolutional net for series", tasks=TASKS)
def fcn(schema: Schema, p: FCNParams) -> nn.Module:
    if len(p.kernels) != len(p.channels):
        raise ValueError("`kernels` needs one length per entry of `channels`")
    return _chain(schema, p.channels, lambda a, b, i: _conv(a, b, p.kernels[i]), p.dropout)


# ----------------------------------------------------------------------------- ResNet
class Residual(nn.Module):
    """Three conv blocks (kernels 7, 5, 3) plus a shortcut, 1×1-projected when widths differ."""

    def __init__(self, c_in: int, c_out: int, kernels: list[int]) -> None:
        super().__init__()
        layers = [_conv(c_in if i == 0 else c_out, c_out, k) for i, k in enumerate(kernels)]
        layers[-1] = layers[-1][:2]  # the last block's ReLU comes after the sum
        self.body = nn.Sequential(*layers)
        self.shortcut = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


@dataclass
class ResNet1DParams:
    channels: list[int] = field(default_factory=lambda: [64, 128, 128])
    kernels: list[int] = field(default_factory=lambda: [7, 5, 3])  # odd: "same" pads evenly
    dropout: float = 0.0


@register_model("resnet1d", ResNet1DParams, ("series",), "residual 1-D ConvNet", tasks=TASKS)
def resnet1d(schema: Schema, p: ResNet1DParams) -> nn.Module:
    return _chain(schema, p.channels, lambda a, b, i: Residual(a, b, p.kernels), p.dropout)


# ------------------------------------------------------------------------ InceptionTime
class Inception(nn.Module):
    """A 1×1 bottleneck, then parallel convolutions of several lengths and a max-pool branch,
    concatenated: patterns of many time scales at once."""

    def __init__(self, c_in: int, filters: int, kernels: list[int], bottleneck: int) -> None:
        super().__init__()
        self.bottleneck = nn.Conv1d(c_in, bottleneck, 1, bias=False) if c_in > 1 else nn.Identity()
        width = bottleneck if c_in > 1 else c_in
        self.branches = nn.ModuleList(
            nn.Conv1d(width, filters, k, padding="same", bias=False) for k in kernels
        )
        self.pool = nn.Sequential(
            nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(c_in, filters, 1, bias=False)
        )
        self.out = nn.Sequential(nn.BatchNorm1d(filters * (len(kernels) + 1)), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.bottleneck(x)
        return self.out(torch.cat([b(z) for b in self.branches] + [self.pool(x)], dim=1))


class InceptionTrunk(nn.Module):
    """``depth`` inception modules, with a residual connection around every three."""

    def __init__(self, c_in: int, p: InceptionTimeParams) -> None:
        super().__init__()
        width = p.filters * (len(p.kernels) + 1)
        self.modules_ = nn.ModuleList(
            Inception(c_in if i == 0 else width, p.filters, p.kernels, p.bottleneck)
            for i in range(p.depth)
        )
        self.shortcuts = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c_in if i == 0 else width, width, 1), nn.BatchNorm1d(width))
            for i in range(p.depth // 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = x
        for i, module in enumerate(self.modules_):
            x = module(x)
            if i % 3 == 2:
                x = torch.relu(x + self.shortcuts[i // 3](kept))
                kept = x
        return x


@dataclass
class InceptionTimeParams:
    filters: int = 32
    kernels: list[int] = field(default_factory=lambda: [39, 19, 9])
    bottleneck: int = 32
    depth: int = 6
    dropout: float = 0.0


@register_model(
    "inception_time",
    InceptionTimeParams,
    ("series",),
    "InceptionTime: multi-scale 1-D convolutions",
    tasks=TASKS,
)
def inception_time(schema: Schema, p: InceptionTimeParams) -> nn.Module:
    width = p.filters * (len(p.kernels) + 1)
    trunk = InceptionTrunk(schema.input_shape[-1], p)
    return SeriesConvNet(trunk, width, schema.n_outputs, p.dropout)
