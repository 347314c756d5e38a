"""A self-organizing map (Kohonen): a grid of prototype vectors, trained without gradients.

Each update finds every input's best-matching unit (BMU) and pulls the units near it on the
grid towards the input, with a neighbourhood radius and a rate that shrink over the run
(Kohonen's rule in a form that suits mini-batches). ``encode`` gives an input's BMU position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepworks.core.model import Model
from deepworks.models.registry import register_model


@dataclass
class SOMParams:
    rows: int = 10
    cols: int = 10
    sigma: float | None = None  # starting neighbourhood radius; default: half the larger side
    sigma_end: float = 0.5
    lr: float = 0.5
    lr_end: float = 0.01


class SelfOrganizingMap(Model):
    def __init__(self, input_shape: tuple[int, ...], p: SOMParams) -> None:
        super().__init__()
        self.shape, self.p = input_shape, p
        self.sigma0 = p.sigma or max(p.rows, p.cols) / 2
        self.register_buffer("weights", torch.randn(p.rows * p.cols, math.prod(input_shape)) * 0.1)
        rows, cols = torch.meshgrid(torch.arange(p.rows), torch.arange(p.cols), indexing="ij")
        self.register_buffer("grid", torch.stack([rows, cols], -1).reshape(-1, 2).float())
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("total_steps", torch.ones((), dtype=torch.long))

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """(N, units) Euclidean distances from each input to each unit's prototype."""
        return torch.cdist(x.flatten(1), self.weights)

    def bmu(self, x: torch.Tensor) -> torch.Tensor:
        return self.distances(x).argmin(dim=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.grid[self.bmu(x)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each input replaced by its BMU's prototype (the map's quantization of it)."""
        return self.weights[self.bmu(x)].view(-1, *self.shape)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> float:
        """One batch step of Kohonen's rule; returns the batch's quantization error."""
        progress = min(float(self.step) / float(self.total_steps), 1.0)
        sigma = self.sigma0 * (self.p.sigma_end / self.sigma0) ** progress
        lr = self.p.lr * (self.p.lr_end / self.p.lr) ** progress
        flat = x.flatten(1)
        dists = torch.cdist(flat, self.weights)
        best = dists.argmin(dim=1)
        grid_d2 = (self.grid[best][:, None, :] - self.grid[None]).pow(2).sum(-1)
        h = torch.exp(-grid_d2 / (2 * sigma**2))  # (N, units) neighbourhood weights
        # ΔW_j = lr · Σ_i h_ij (x_i − W_j) / max(Σ_i h_ij, 1): Kohonen's online rule while a
        # unit gets little pull, a damped step to its neighbourhood-weighted mean (batch SOM)
        # once it gets a lot, so mini-batches neither stall nor overshoot.
        pull = h.sum(0)[:, None]
        self.weights += lr * (h.T @ flat - pull * self.weights) / pull.clamp_min(1.0)
        self.step += 1
        return float(dists.gather(1, best[:, None]).mean())

    def u_matrix(self) -> torch.Tensor:
        """(rows, cols) mean distance of each unit's prototype to its grid neighbours'."""
        near = torch.cdist(self.grid, self.grid) <= 1.0 + 1e-6
        near.fill_diagonal_(False)
        d = torch.cdist(self.weights, self.weights)
        return ((d * near).sum(1) / near.sum(1)).view(self.p.rows, self.p.cols)


register_model(
    "som", SOMParams, ("table", "image"), "self-organizing map (no gradients)", tasks=("som",)
)(lambda s, p: SelfOrganizingMap(s.input_shape, p))
