"""Audio augmentation: white noise at a signal-to-noise ratio and time shifts on the waveform,
SpecAugment's frequency and time masks on the spectrogram."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

from deepworks.config import AugmentConfig
from deepworks.core.schema import Schema
from deepworks.data.augment import Batch, register_augmenter


@register_augmenter("audio", ("noise", "shift", "specaugment"), on_tensors=False)
def audio_augment(cfg: AugmentConfig, schema: Schema):
    return _audio(cfg)  # from the waveforms, not the features


def _audio(cfg: AugmentConfig) -> Callable[[Dataset, Sequence[int]], Batch]:
    def augment(data: Dataset, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices)
        waves, y = data.waves[idx], data.y[idx]  # type: ignore[attr-defined]
        encoder = data.encoder  # type: ignore[attr-defined]
        if cfg.shift:
            most = round(cfg.shift * encoder.sample_rate)
            waves = torch.stack([shift(w, int(torch.randint(-most, most + 1, ()))) for w in waves])
        waves = add_noise(waves, cfg.noise)
        x = encoder.features(waves)
        if cfg.specaugment:
            x = spec_augment(x)
        return x, y

    return augment


def add_noise(waves: torch.Tensor, snr: float | None) -> torch.Tensor:
    """(N, samples) with background noise, each clip at a random SNR between ``snr`` and
    40 dB; as they are when ``snr`` is None."""
    if snr is None:
        return waves
    snr_db = snr + (40 - snr) * torch.rand(len(waves), 1)
    power = waves.pow(2).mean(1, keepdim=True).clamp_min(1e-10)
    return waves + torch.randn(waves.shape) * (power / 10 ** (snr_db / 10)).sqrt()


def shift(wave: torch.Tensor, by: int) -> torch.Tensor:
    """Move the sound by ``by`` samples, filling with silence."""
    out = torch.zeros_like(wave)
    if by >= 0:
        out[by:] = wave[: len(wave) - by]
    else:
        out[:by] = wave[-by:]
    return out


def spec_augment(x: torch.Tensor, masks: int = 2, width_f: int = 6, width_t: int = 10):
    """SpecAugment (Park et al. 2019): zero (= the mean, after normalization) random bands
    of mel channels and of frames in each example."""
    x = x.clone()
    n, _, mels, frames = x.shape
    for i in range(n):
        for _ in range(masks):
            f = int(torch.randint(0, width_f + 1, ()))
            f0 = int(torch.randint(0, mels - f + 1, ()))
            x[i, :, f0 : f0 + f] = 0
            t = int(torch.randint(0, width_t + 1, ()))
            t0 = int(torch.randint(0, frames - t + 1, ()))
            x[i, :, :, t0 : t0 + t] = 0
    return x
