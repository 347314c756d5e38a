"""What the CTC acoustic models share: a convolutional front end that turns a log-mel
spectrogram (N, 1, mels, T) into one vector per output frame (N, T / 2, d), halving time once
(20 ms frames: room for every character of fast speech and the blanks between repeats), and
the head that scores the characters and CTC's blank at every frame (log-probabilities)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from deepworks.core.model import Model


class FrontEnd(nn.Module):
    """Two 3×3 convolution blocks: frequency ÷ 4, time ÷ 2, then a linear map to ``d``."""

    def __init__(self, mels: int, channels: int, d: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=(2, 2), padding=1),
            nn.BatchNorm2d(channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1),
            nn.BatchNorm2d(channels),
            nn.GELU(),
        )
        freq = (mels + 1) // 2
        freq = (freq + 1) // 2
        self.project = nn.Sequential(nn.Linear(channels * freq, d), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x)  # (N, C, F', T')
        return self.project(h.permute(0, 3, 1, 2).flatten(2))  # (N, T', d)


def frames_out(frames: int) -> int:
    """Output frames for ``frames`` input frames."""
    return (frames + 1) // 2


class AcousticModel(Model):
    """A CTC acoustic model: (N, 1, mels, T) features → (N, T / 2, characters + blank)
    log-probabilities; clips of any length, so the exported graph's frames are free."""

    export_axes: ClassVar[dict[str, dict[int, str]]] = {
        "input": {0: "batch", 3: "frames"},
        "output": {0: "batch", 1: "frames"},
    }


class CharacterHead(nn.Module):
    def __init__(self, d: int, outputs: int, dropout: float) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(d, outputs))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h).log_softmax(-1)
