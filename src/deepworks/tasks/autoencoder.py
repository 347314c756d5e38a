"""Learning without labels: reconstruct the input through a small code.

The final evaluation also clusters the codes with k-means (one cluster per class where labels
exist) and reports silhouette, and ARI / NMI against the labels: how much of the classes the
code found on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric
from torchmetrics.regression import MeanSquaredError
from torchmetrics.wrappers import LambdaInputTransformer

from deepworks.tasks.base import Batch, Task, register_task

# The silhouette is quadratic in the number of points: estimate it on a sample.
SILHOUETTE_SAMPLE = 2000


@register_task("autoencoder")
class Autoencoder(Task):
    """Reconstruct the input; a VAE adds the KL divergence of its code to a standard normal."""

    main_metric = "mse"
    lower_is_better = frozenset({"loss", "mse"})
    epoch_metrics = frozenset({"mse"})

    def reconstruction_loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if hasattr(model, "elbo_terms"):  # VAE: per-example sum of squares + KL
            recon, mu, logvar = model.elbo_terms(x)
            rec = F.mse_loss(recon, x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
            return rec + kl
        return F.mse_loss(model(x), x)

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self.reconstruction_loss(model, batch[0])

    def evaluation_step(self, model, batch):
        x, _ = batch
        return self.reconstruction_loss(model, x), model(x), x

    def metric_factories(self) -> dict[str, Callable[[], Metric]]:
        flat = lambda t: t.reshape(-1)  # noqa: E731
        return {"mse": lambda: LambdaInputTransformer(MeanSquaredError(), flat, flat)}

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example reconstruction error (the anomaly score of an autoencoder)."""
        error = (model(x) - x).pow(2).flatten(1).mean(1)
        return {"reconstruction_error": error}

    @torch.inference_mode()
    def codes(self, model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        model.eval()
        return torch.cat([model.encode(chunk) for chunk in x.split(batch_size)])

    def final_metrics(self, model: nn.Module, data: Any, seed: int = 0) -> dict[str, float]:
        """k-means on the split's codes: silhouette, and ARI / NMI where labels exist."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import (
            adjusted_rand_score,
            normalized_mutual_info_score,
            silhouette_score,
        )

        codes = self.codes(model, data.x).numpy()
        k = len(self.schema.classes) if self.schema.classes else 8
        clusters = KMeans(k, n_init=10, random_state=seed).fit_predict(codes)
        sample = np.random.default_rng(seed).permutation(len(codes))[:SILHOUETTE_SAMPLE]
        out = {"silhouette": float(silhouette_score(codes[sample], clusters[sample]))}
        if self.schema.classes:
            labels = data.y.numpy()
            out["kmeans_ari"] = float(adjusted_rand_score(labels, clusters))
            out["kmeans_nmi"] = float(normalized_mutual_info_score(labels, clusters))
        return out
