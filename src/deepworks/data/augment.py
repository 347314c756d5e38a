"""Data augmentation, for the training split only and reproducible from the seed.

Each training batch is augmented under its own seed, a function of (run seed, epoch, the
batch's first example), inside ``torch.random.fork_rng``: an augmented run repeats exactly,
resumes exactly, and leaves the global random stream (dropout's) untouched.

Images go through torchvision.transforms.v2 one by one (so each gets its own random draw) in
pixel units, then back to the model's normalization; MixUp / CutMix mix whole batches and turn
the labels into class probabilities, which cross-entropy takes as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from deepworks.config import AugmentConfig
from deepworks.core.errors import ConfigError
from deepworks.core.schema import Schema
from deepworks.data.datasets import Data

Batch = tuple[torch.Tensor, torch.Tensor]
KEYS = {
    "image": ("flip", "rotate", "crop", "color", "randaugment", "mixup", "cutmix"),
    "text": ("token_dropout", "swap"),
    "series": ("jitter", "scale", "warp"),
    "audio": ("noise", "shift", "specaugment"),
}


class AugmentedData(Data):
    """Wraps the training data; ``set_epoch`` (called by the Trainer) varies the draws.

    ``augment(data, indices)`` makes the augmented batch: most take the batch as it comes;
    audio starts from the waveforms.
    """

    def __init__(
        self, data: Dataset, augment: Callable[[Dataset, Sequence[int]], Batch], seed: int
    ) -> None:
        self.data, self.augment, self.seed, self.epoch = data, augment, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_003 + int(indices[0]))
            return self.augment(self.data, indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([i])
        return x[0], y[0]

    def __getattr__(self, name: str):  # x, y, ... of the wrapped data
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)


def augmented(data: Dataset, cfg: AugmentConfig, schema: Schema, seed: int) -> Dataset:
    """``data`` with the configured augmentation, or as it is when none is set."""
    chosen = cfg.model_dump(exclude_defaults=True)
    if not chosen:
        return data
    own = KEYS.get(schema.modality, ())
    foreign = [k for k in chosen if k not in own]
    if foreign:
        raise ConfigError(
            f"data.augment.{foreign[0]} does not apply to {schema.modality} data. "
            f"For {schema.modality}: {', '.join(own) or 'none yet'}"
        )
    if schema.modality == "audio":
        return AugmentedData(data, _audio(cfg), seed)
    on_batch = {"image": _images, "text": _text, "series": _series}[schema.modality](cfg, schema)
    return AugmentedData(data, lambda d, i: on_batch(d.__getitems__(i)), seed)


# ------------------------------------------------------------------------------- images


def _images(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    from torchvision.transforms import v2

    size = schema.input_shape[1:]
    steps: list = []
    if cfg.crop:
        steps.append(v2.RandomResizedCrop(size, scale=(cfg.crop, 1.0), antialias=True))
    if cfg.flip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.rotate:
        steps.append(v2.RandomRotation(cfg.rotate))
    if cfg.color:
        c = cfg.color
        saturation = c if schema.input_shape[0] == 3 else 0
        steps.append(v2.ColorJitter(brightness=c, contrast=c, saturation=saturation))
    if cfg.randaugment:
        steps.append(v2.RandAugment())
    per_image = v2.Compose(steps) if steps else None
    mixers = []
    if cfg.mixup:
        mixers.append(v2.MixUp(alpha=cfg.mixup, num_classes=schema.n_outputs))
    if cfg.cutmix:
        mixers.append(v2.CutMix(alpha=cfg.cutmix, num_classes=schema.n_outputs))
    mix = v2.RandomChoice(mixers) if mixers else None
    if mix and schema.task != "classification":
        raise ConfigError("data.augment.mixup / cutmix mix class labels: classification only")

    mean = torch.tensor(schema.encoder.get("mean") or [0.0]).view(-1, 1, 1)
    std = torch.tensor(schema.encoder.get("std") or [1.0]).view(-1, 1, 1)

    def augment(batch: Batch) -> Batch:
        x, y = batch
        if per_image is not None:
            pixels = (x * std + mean).clamp(0, 1)
            if cfg.randaugment:  # RandAugment works on 8-bit images
                pixels = (pixels * 255).round().to(torch.uint8)
            pixels = torch.stack([per_image(image) for image in pixels])
            if pixels.dtype == torch.uint8:
                pixels = pixels.float() / 255
            x = (pixels - mean) / std
        if mix is not None:
            x, y = mix(x, y)
        return x, y

    return augment


# --------------------------------------------------------------------------------- text


def _text(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    vocab = schema.encoder.get("vocab", [])
    unknown = vocab.index("[UNK]") if "[UNK]" in vocab else 1  # deepworks' own <unk> is 1

    def augment(batch: Batch) -> Batch:
        x, y = batch
        x = x.clone()
        real = x != 0
        if cfg.token_dropout:
            x[real & (torch.rand(x.shape) < cfg.token_dropout)] = unknown
        if cfg.swap:  # swap token i with i + 1 where both are real and i is drawn
            pick = (torch.rand(x.shape) < cfg.swap) & real
            pick[:, -1] = False
            pick[:, :-1] &= real[:, 1:]
            pick[:, 1:] &= ~pick[:, :-1]  # no token takes part in two swaps
            rows, cols = pick.nonzero(as_tuple=True)
            left, right = x[rows, cols].clone(), x[rows, cols + 1].clone()
            x[rows, cols], x[rows, cols + 1] = right, left
        return x, y

    return augment


# ------------------------------------------------------------------------------- series


def _series(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    if schema.task == "forecast" and (cfg.scale or cfg.warp):
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


# -------------------------------------------------------------------------------- audio


def _audio(cfg: AugmentConfig) -> Callable[[Dataset, Sequence[int]], Batch]:
    def augment(data: Dataset, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices)
        waves, y = data.waves[idx], data.y[idx]  # type: ignore[attr-defined]
        encoder = data.encoder  # type: ignore[attr-defined]
        if cfg.shift:
            most = round(cfg.shift * encoder.sample_rate)
            waves = torch.stack([_shift(w, int(torch.randint(-most, most + 1, ()))) for w in waves])
        if cfg.noise is not None:  # each clip at a random SNR between `noise` and 40 dB
            snr_db = cfg.noise + (40 - cfg.noise) * torch.rand(len(waves), 1)
            power = waves.pow(2).mean(1, keepdim=True).clamp_min(1e-10)
            waves = waves + torch.randn(waves.shape) * (power / 10 ** (snr_db / 10)).sqrt()
        x = encoder.features(waves)
        if cfg.specaugment:
            x = _spec_augment(x)
        return x, y

    return augment


def _shift(wave: torch.Tensor, by: int) -> torch.Tensor:
    """Move the sound by ``by`` samples, filling with silence."""
    out = torch.zeros_like(wave)
    if by >= 0:
        out[by:] = wave[: len(wave) - by]
    else:
        out[:by] = wave[-by:]
    return out


def _spec_augment(x: torch.Tensor, masks: int = 2, width_f: int = 6, width_t: int = 10):
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
