"""Speech augmentation, the audio keys on clips of any length: background noise at a random
signal-to-noise ratio and time shifts on the waveform, SpecAugment on the spectrogram."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from deepworks.config import AugmentConfig
from deepworks.core.errors import ConfigError
from deepworks.core.schema import Schema
from deepworks.data.augment import Batch, register_augmenter
from deepworks.modalities.audio.augment import add_noise, spec_augment


@register_augmenter("speech", ("noise", "shift", "specaugment"), on_tensors=False)
def speech_augment(cfg: AugmentConfig, schema: Schema):
    if cfg.specaugment and schema.encoder.get("waveform"):
        raise ConfigError(
            "data.augment.specaugment masks a spectrogram, and this model reads the waveform "
            "(wav2vec2 masks its own time steps while fine-tuning); drop specaugment"
        )

    def augment(data: Dataset, indices: Sequence[int]) -> Batch:
        encoder = data.encoder  # type: ignore[attr-defined]
        waves = [data.waves[i].float() / 32768 for i in indices]  # type: ignore[attr-defined]
        if cfg.shift:  # a clip is never cut: the shift pads silence before it
            most = round(cfg.shift * encoder.sample_rate)
            pads = torch.randint(0, most + 1, (len(waves),)).tolist()
            waves = [torch.cat([torch.zeros(p), w]) for p, w in zip(pads, waves, strict=True)]
        x = encoder.featurize([add_noise(w[None], cfg.noise)[0] for w in waves])
        if cfg.specaugment:
            x = spec_augment(x)
        return x, data.targets(torch.as_tensor(indices))  # type: ignore[attr-defined]

    return augment
