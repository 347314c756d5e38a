"""Learning without labels: reconstruct the input through a small code.

The final evaluation also clusters the codes with k-means (one cluster per class where labels
exist) and reports silhouette, and ARI / NMI against the labels: how much of the classes the
code found on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        return {s: self.clustering(model, getattr(bundle, s), seed) for s in ("valid", "test")}

    def plots(self, model: nn.Module, bundle: Any, folder: Path) -> None:
        from deepworks.evaluate import plots

        codes = self.codes(model, bundle.test.x).numpy()
        classes = self.schema.classes
        labels = bundle.test.y.numpy() if classes else None
        plots.embedding(codes, labels, classes, folder / "embedding.png", "test set codes")

    def clustering(self, model: nn.Module, data: Any, seed: int = 0) -> dict[str, float]:
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


@register_task("anomaly")
class AnomalyDetection(Autoencoder):
    """Trained on normal examples only; an example that reconstructs badly is an anomaly.

    The score is the reconstruction error (for a VAE, the negative ELBO: reconstruction plus
    KL). The threshold maximizes F1 on the validation split and is then applied to test.
    """

    main_metric = "pr_auc"

    @torch.inference_mode()
    def scores(self, model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        model.eval()
        parts = []
        for chunk in x.split(batch_size):
            if hasattr(model, "elbo_terms"):
                recon, mu, logvar = model.elbo_terms(chunk)
                kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
                parts.append((recon - chunk).pow(2).flatten(1).sum(1) + kl)
            else:
                parts.append((model(chunk) - chunk).pow(2).flatten(1).mean(1))
        return torch.cat(parts)

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"anomaly_score": self.scores(model, x)}

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        from sklearn.metrics import (
            average_precision_score,
            precision_recall_curve,
            precision_recall_fscore_support,
            roc_auc_score,
        )

        out = {}
        threshold = 0.0
        for split in ("valid", "test"):
            data = getattr(bundle, split)
            y, score = data.y.numpy(), self.scores(model, data.x).numpy()
            if split == "valid":  # the threshold with the best F1, chosen here only
                precision, recall, cuts = precision_recall_curve(y, score)
                f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
                threshold = float(cuts[np.argmax(f1[:-1])])
            p, r, f, _ = precision_recall_fscore_support(
                y, score >= threshold, average="binary", zero_division=0
            )
            out[split] = {
                "pr_auc": float(average_precision_score(y, score)),
                "roc_auc": float(roc_auc_score(y, score)),
                "prevalence": float(y.mean()),
                "threshold": threshold,
                "precision_at_threshold": float(p),
                "recall_at_threshold": float(r),
                "f1_at_threshold": float(f),
            }
        return out
