"""Autoencoders: `autoencoder` (dense), `conv-autoencoder` (images) and `vae`.

Each has ``encode(x) → code`` and ``forward(x) → reconstruction`` shaped like ``x``; the VAE
adds ``elbo_terms(x)`` for its loss, and reconstructs from the mean code outside training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.model import Model
from deepworks.models.registry import activation, dense_stack, register_model


@dataclass
class AutoencoderParams:
    hidden: list[int] = field(default_factory=lambda: [128, 64])
    latent: int = 8
    dropout: float = 0.0
    activation: str = "relu"


class DenseAutoencoder(Model):
    def __init__(self, shape: tuple[int, ...], p: AutoencoderParams, code_width: int) -> None:
        super().__init__()
        self.shape, width = shape, math.prod(shape)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            dense_stack([width, *p.hidden], p.activation, p.dropout),
            nn.Linear(p.hidden[-1], code_width),
        )
        self.decoder = nn.Sequential(
            dense_stack([p.latent, *reversed(p.hidden)], p.activation, p.dropout),
            nn.Linear(p.hidden[0], width),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code).view(-1, *self.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(DenseAutoencoder):
    """The encoder gives a mean and a log-variance per latent dimension."""

    tags = frozenset({"elbo"})

    def __init__(self, shape: tuple[int, ...], p: AutoencoderParams) -> None:
        super().__init__(shape, p, code_width=2 * p.latent)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).chunk(2, dim=-1)[0]  # the mean: a deterministic code

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        code = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decode(code), mu, logvar

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.elbo_terms(x)[0]


@dataclass
class ConvAutoencoderParams:
    channels: list[int] = field(default_factory=lambda: [16, 32])
    latent: int = 16
    activation: str = "relu"


class ConvAutoencoder(Model):
    """Stride-2 convolutions down, a linear code, transposed convolutions back up."""

    def __init__(self, shape: tuple[int, ...], p: ConvAutoencoderParams) -> None:
        super().__init__()
        self.shape = shape
        down: list[nn.Module] = []
        in_ch = shape[0]
        for ch in p.channels:
            down += [nn.Conv2d(in_ch, ch, 3, stride=2, padding=1), activation(p.activation)]
            in_ch = ch
        self.down = nn.Sequential(*down)
        with torch.no_grad():
            self.inner = tuple(self.down(torch.zeros(1, *shape)).shape[1:])
        self.to_code = nn.Linear(math.prod(self.inner), p.latent)
        self.from_code = nn.Linear(p.latent, math.prod(self.inner))
        up: list[nn.Module] = []
        for ch, out_ch in zip(
            reversed(p.channels), [*reversed(p.channels[:-1]), shape[0]], strict=True
        ):
            up += [
                nn.ConvTranspose2d(ch, out_ch, 3, stride=2, padding=1, output_padding=1),
                activation(p.activation),
            ]
        self.up = nn.Sequential(*up[:-1])  # no activation on the reconstruction

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.down(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.up(self.from_code(self.encode(x)).view(-1, *self.inner))
        return (
            F.interpolate(h, size=self.shape[1:], mode="bilinear")
            if h.shape[2:] != x.shape[2:]
            else h
        )


AUTOENCODER_TASKS = ("autoencoder", "anomaly")
register_model(
    "autoencoder",
    AutoencoderParams,
    ("table", "image"),
    "dense autoencoder",
    tasks=AUTOENCODER_TASKS,
)(lambda s, p: DenseAutoencoder(s.input_shape, p, p.latent))
register_model(
    "vae", AutoencoderParams, ("table", "image"), "variational autoencoder", tasks=AUTOENCODER_TASKS
)(lambda s, p: VAE(s.input_shape, p))
register_model(
    "conv-autoencoder",
    ConvAutoencoderParams,
    ("image",),
    "convolutional autoencoder",
    tasks=AUTOENCODER_TASKS,
)(lambda s, p: ConvAutoencoder(s.input_shape, p))


@dataclass
class DECParams(AutoencoderParams):
    clusters: int | None = None  # default: the number of classes, else 10
    pretrain: float = 0.5  # share of the run spent as a plain autoencoder
    alpha: float = 1.0  # Student-t degrees of freedom of the soft assignment


class DeepEmbeddedClustering(DenseAutoencoder):
    """An autoencoder whose code space also holds cluster centres (DEC / IDEC)."""

    def __init__(self, shape: tuple[int, ...], p: DECParams, clusters: int) -> None:
        super().__init__(shape, p, p.latent)
        self.alpha, self.pretrain = p.alpha, p.pretrain
        self.centroids = nn.Parameter(torch.zeros(clusters, p.latent))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("pretrain_steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def soft_assign(self, code: torch.Tensor) -> torch.Tensor:
        """q_ij ∝ (1 + |z_i − μ_j|² / α)^(−(α+1)/2): a Student-t kernel around each centre."""
        d2 = torch.cdist(code, self.centroids).pow(2)
        q = (1 + d2 / self.alpha).pow(-(self.alpha + 1) / 2)
        return q / q.sum(1, keepdim=True)


register_model(
    "dec", DECParams, ("table", "image"), "deep embedded clustering (IDEC)", tasks=("clustering",)
)(
    lambda s, p: DeepEmbeddedClustering(
        s.input_shape, p, p.clusters or (len(s.classes) if s.classes else 10)
    )
)
