"""`dcgan`: a deep convolutional GAN for images, unconditional or class-conditional.

The task decides which: under `task: gan` the generator learns p(x); under
`task: conditional-gan` both players also see the class (the generator through a label
embedding, the discriminator through a projection, Miyato & Koyama 2018).

The generator ends in a sigmoid, i.e. pixels in [0, 1], then applies the data's own per-channel
normalization, so its samples live where the real (normalized) images do. ``forward(z, labels)``
is the generator: it is what gets exported and served.

The model also carries a *judge*: a multinomial logistic regression fit on the real training
images before the GAN trains (never updated by it). It scores what the generator makes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.model import Model
from deepworks.core.schema import Schema
from deepworks.models.registry import register_model


@dataclass
class GANParams:
    latent: int = 64  # size of the noise vector z
    width: int = 64  # channels of the widest generator / discriminator layer


class Generator(nn.Module):
    """z (+ label embedding) → a linear layer onto a quarter-size map → two 2× upsamplings."""

    def __init__(self, shape: tuple[int, ...], p: GANParams, n_classes: int) -> None:
        super().__init__()
        channels, height, width = shape
        self.shape = shape
        self.base = (math.ceil(height / 4), math.ceil(width / 4))
        self.label = nn.Embedding(n_classes, p.latent) if n_classes else None
        z_width = p.latent * (2 if n_classes else 1)
        self.project = nn.Sequential(
            nn.Linear(z_width, p.width * math.prod(self.base)),
            nn.BatchNorm1d(p.width * math.prod(self.base)),
            nn.ReLU(),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(p.width, p.width // 2, 4, stride=2, padding=1),
            nn.BatchNorm2d(p.width // 2),
            nn.ReLU(),
            nn.ConvTranspose2d(p.width // 2, channels, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.label is not None:
            z = torch.cat([z, self.label(labels)], dim=1)
        h = self.project(z).view(len(z), -1, *self.base)
        return self.up(h)[:, :, : self.shape[1], : self.shape[2]]  # 4·ceil(n/4) ≥ n: crop


class Discriminator(nn.Module):
    """Two stride-2 convolutions, a minibatch-spread feature, and a projection that adds the
    class. (Spectral normalization here cut the samples' variety in half on digits.)"""

    def __init__(self, shape: tuple[int, ...], p: GANParams, n_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(shape[0], p.width // 2, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(p.width // 2, p.width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *shape)).shape[1] + 1  # + minibatch std
        self.out = nn.Linear(flat, 1)
        self.label = nn.Embedding(n_classes, flat) if n_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per image: high means real."""
        h = self.features(x)
        # Minibatch standard deviation (Karras et al. 2018): a batch of near-copies looks fake,
        # which pushes the generator away from collapsing onto a few images.
        spread = h.std(0, unbiased=False).mean() if len(h) > 1 else h.new_zeros(())
        h = torch.cat([h, spread.expand(len(h), 1)], dim=1)
        logit = self.out(h).squeeze(1)
        if self.label is not None:
            logit = logit + (self.label(labels) * h).sum(1)
        return logit


class DCGAN(Model):
    def __init__(self, schema: Schema, p: GANParams) -> None:
        super().__init__()
        classes = len(schema.classes or [])
        self.conditional = schema.task == "conditional-gan"
        n_classes = classes if self.conditional else 0
        self.latent = p.latent
        self.generator = Generator(schema.input_shape, p, n_classes)
        self.discriminator = Discriminator(schema.input_shape, p, n_classes)
        encoder = schema.encoder
        mean, std = encoder.get("mean") or [0.0], encoder.get("std") or [1.0]
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.judge = nn.Linear(math.prod(schema.input_shape), max(classes, 1))
        self.judge.requires_grad_(False)
        self.register_buffer("judge_fitted", torch.zeros((), dtype=torch.bool))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generated images, normalized like the training data."""
        return (self.generator(z, labels if self.conditional else None) - self.mean) / self.std

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.discriminator(x, labels if self.conditional else None)

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized images back to [0, 1]."""
        return (x * self.std + self.mean).clamp(0, 1)

    def judge_proba(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.judge(x.flatten(1)), dim=1)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent, generator=generator).to(self.mean.device)


register_model(
    "dcgan",
    GANParams,
    ("image",),
    "deep convolutional GAN (conditional under task: conditional-gan)",
    tasks=("gan", "conditional-gan"),
)(DCGAN)
