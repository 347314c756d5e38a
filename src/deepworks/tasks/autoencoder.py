"""Learning without labels: reconstruct the input through a small code.

The final evaluation also clusters the codes with k-means (one cluster per class where labels
exist) and reports silhouette, and ARI / NMI against the labels: how much of the classes the
code found on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from deepworks.core.metric import StreamMetric

# The silhouette is quadratic in the number of points: estimate it on a sample.
SILHOUETTE_SAMPLE = 2000
# The PCA baseline is fit on at most this many training examples.
PCA_TRAIN = 20_000


@register_task("autoencoder")
class Autoencoder(Task):
    """Reconstruct the input; a VAE adds the KL divergence of its code to a standard normal."""

    main_metric = "mse"
    lower_is_better = frozenset({"loss", "mse"})
    epoch_metrics = frozenset({"mse"})
    own_baselines = ("pca",)
    tags = frozenset({"embeds"})
    final_metric_names = ("silhouette", "kmeans_ari", "kmeans_nmi", "pca_mse")
    final_metric_names += ("pca_kmeans_ari", "pca_kmeans_nmi")
    # Labels only colour plots and score clusters: the data is read as for its natural task.
    reads_data_as = "auto"

    def reconstruction_loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if "elbo" in model.tags:  # VAE: per-example sum of squares + KL
            recon, mu, logvar = model.elbo_terms(x)
            rec = F.mse_loss(recon, x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
            return rec + kl
        return F.mse_loss(model(x), x)

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self.reconstruction_loss(model, batch.x)

    def evaluation_step(self, model, batch):
        x, _ = batch
        return self.reconstruction_loss(model, x), model(x), x

    def metric_factories(self) -> dict[str, Callable[[], StreamMetric]]:
        from deepworks.metrics.errors import ErrorScores

        return {"mse": lambda: ErrorScores({"mse": "mse"})}  # over every value of every example

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example reconstruction error (the anomaly score of an autoencoder)."""
        error = (model(x) - x).pow(2).flatten(1).mean(1)
        return {"reconstruction_error": error}

    @torch.inference_mode()
    def codes(self, model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        model.eval()
        return torch.cat([model.encode(chunk) for chunk in x.split(batch_size)])

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        out = {s: self.clustering(model, getattr(bundle, s), seed) for s in ("valid", "test")}
        for split, values in self.pca_baseline(model, bundle, seed).items():
            out[split].update(values)
        return out

    def pca_baseline(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        """PCA with as many components as the model's code, fit on the training split: its
        reconstruction error (`pca_mse`, what a linear autoencoder reaches) and k-means on its
        components (`pca_kmeans_ari` / `_nmi`, the classic pipeline)."""
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

        width = self.codes(model, bundle.train.x[:2]).shape[1]
        train = bundle.train.x.flatten(1).numpy()[:PCA_TRAIN]
        pca = PCA(min(width, *train.shape), random_state=seed).fit(train)
        out = {}
        for split in ("valid", "test"):
            data = getattr(bundle, split)
            x = data.x.flatten(1).numpy()
            z = pca.transform(x)
            values = {"pca_mse": float(((pca.inverse_transform(z) - x) ** 2).mean())}
            if self.schema.classes:
                k = len(self.schema.classes)
                clusters = KMeans(k, n_init=10, random_state=seed).fit_predict(z)
                labels = data.y.numpy()
                values["pca_kmeans_ari"] = float(adjusted_rand_score(labels, clusters))
                values["pca_kmeans_nmi"] = float(normalized_mutual_info_score(labels, clusters))
            out[split] = values
        return out

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        from deepworks import plots

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

    final_metric_names = ("pr_auc", "roc_auc", "prevalence", "threshold")
    final_metric_names += ("precision_at_threshold", "recall_at_threshold", "f1_at_threshold")

    main_metric = "pr_auc"
    own_baselines = ()  # the isolation forest is its baseline
    reads_data_as = "classification"  # then relabelled normal / anomaly by `adapt_data`
    tags = frozenset({"embeds", "classifies"})

    @classmethod
    def adapt_data(cls, bundle: Any, cfg: Any) -> Any:
        """Labels become normal (0) / anomaly (1); training keeps only normal examples."""
        from deepworks.core.errors import DataError, did_you_mean
        from deepworks.data.datasets import TensorData

        classes = bundle.schema.classes or []
        if not cfg.anomalous:
            raise DataError(
                f"task `anomaly` needs `data.anomalous`: which of {classes} are anomalies"
            )
        for name in cfg.anomalous:
            if name not in classes:
                raise DataError(
                    f"{bundle.schema.origin}: no class `{name}` to treat as anomalous."
                    f"{did_you_mean(name, classes)} Classes: {', '.join(classes)}."
                )
        anomalous = torch.as_tensor([classes.index(c) for c in cfg.anomalous])

        def relabel(data: TensorData, normal_only: bool) -> TensorData:
            is_anomaly = torch.isin(data.y, anomalous).long()
            keep = is_anomaly == 0 if normal_only else torch.ones_like(is_anomaly, dtype=torch.bool)
            return TensorData(data.x[keep], is_anomaly[keep])

        bundle.schema.label_aliases = {
            c: "anomaly" if c in cfg.anomalous else "normal" for c in classes
        }  # new labelled files come with the data's own labels
        bundle.schema.task, bundle.schema.classes = cls.name, ["normal", "anomaly"]
        bundle.train = relabel(bundle.train, True)
        bundle.valid, bundle.test = relabel(bundle.valid, False), relabel(bundle.test, False)
        bundle.test_rows = None
        return bundle

    def prediction_frame(self, ids: list[Any], out: dict[str, torch.Tensor], metrics: dict):
        """The score, and whether it passes the threshold chosen on the validation split."""
        frame = super().prediction_frame(ids, out, metrics)
        frame["is_anomaly"] = frame["anomaly_score"] >= metrics["valid"]["threshold"]
        return frame

    @torch.inference_mode()
    def scores(self, model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        model.eval()
        return torch.cat([self.batch_scores(model, chunk) for chunk in x.split(batch_size)])

    @staticmethod
    def batch_scores(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if "elbo" in model.tags:
            recon, mu, logvar = model.elbo_terms(x)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
            return (recon - x).pow(2).flatten(1).sum(1) + kl
        return (model(x) - x).pow(2).flatten(1).mean(1)

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"anomaly_score": self.batch_scores(model, x)}

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        from sklearn.metrics import precision_recall_curve

        out = {}
        threshold = 0.0
        for split in ("valid", "test"):
            data = getattr(bundle, split)
            y, score = data.y.numpy(), self.scores(model, data.x).numpy()
            if split == "valid":  # the threshold with the best F1, chosen here only
                precision, recall, cuts = precision_recall_curve(y, score)
                f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
                threshold = float(cuts[np.argmax(f1[:-1])])
            out[split] = self._detection(y, score, threshold)
        return out

    def labelled_metrics(self, model: nn.Module, data: Any, metrics: dict) -> dict[str, float]:
        """On a new labelled file: the same ranking and threshold metrics, at the threshold
        chosen on the run's validation split."""
        y, score = data.y.numpy(), self.scores(model, data.x).numpy()
        if len(np.unique(y)) < 2:
            return {"prevalence": float(y.mean())}  # rankings need both kinds of example
        return self._detection(y, score, metrics["valid"]["threshold"])

    @staticmethod
    def _detection(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
        from sklearn.metrics import (
            average_precision_score,
            precision_recall_fscore_support,
            roc_auc_score,
        )

        p, r, f, _ = precision_recall_fscore_support(
            y, score >= threshold, average="binary", zero_division=0
        )
        return {
            "pr_auc": float(average_precision_score(y, score)),
            "roc_auc": float(roc_auc_score(y, score)),
            "prevalence": float(y.mean()),
            "threshold": threshold,
            "precision_at_threshold": float(p),
            "recall_at_threshold": float(r),
            "f1_at_threshold": float(f),
        }


@register_task("clustering")
class DeepClustering(Autoencoder):
    """Deep embedded clustering (IDEC): pretrain as an autoencoder, start the centres with
    k-means on all training codes, then sharpen the soft assignments (KL to DEC's target
    distribution) while still reconstructing, so the code keeps the data's structure."""

    kl_weight = 0.1
    final_metric_names = (*Autoencoder.final_metric_names, "dec_ari", "dec_nmi")

    @property
    def main_metric(self) -> str:  # type: ignore[override]
        """With labels, how well k-means on the learned code finds the classes (beside PCA +
        k-means); without, the reconstruction error."""
        return "kmeans_ari" if self.schema.classes else "mse"

    def on_fit_start(self, model: nn.Module, total_steps: int, train: Any = None) -> None:
        self.train_x = train.x
        if not bool(model.initialised):
            model.pretrain_steps.fill_(int(total_steps * model.pretrain))

    def training_step(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x = batch.x
        if int(model.step) == int(model.pretrain_steps) and not bool(model.initialised):
            self._init_centroids(model)
        model.step += 1
        loss = F.mse_loss(model(x), x)
        if not bool(model.initialised):
            return loss
        q = model.soft_assign(model.encode(x))
        p = q.pow(2) / q.sum(0)  # DEC's target: sharpened, normalised by cluster size
        p = (p / p.sum(1, keepdim=True)).detach()
        return loss + self.kl_weight * F.kl_div(q.log(), p, reduction="batchmean")

    def _init_centroids(self, model: nn.Module) -> None:
        from sklearn.cluster import KMeans

        codes = self.codes(model, self.train_x).numpy()
        k = model.centroids.shape[0]
        centres = KMeans(k, n_init=10, random_state=0).fit(codes).cluster_centers_
        with torch.no_grad():
            model.centroids.copy_(torch.as_tensor(centres, dtype=torch.float32))
        model.initialised.fill_(True)
        model.train()

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The reconstruction error, and the model's own cluster: the centroid its code is
        nearest to (the largest soft assignment)."""
        out = super().predict(model, x)
        with torch.inference_mode():
            out["cluster"] = model.soft_assign(self.codes(model, x)).argmax(1)
        return out

    def clustering(self, model: nn.Module, data: Any, seed: int = 0) -> dict[str, float]:
        """k-means on the codes as for any autoencoder, plus the model's own clusters."""
        from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

        out = super().clustering(model, data, seed)
        if self.schema.classes:
            with torch.inference_mode():
                own = model.soft_assign(self.codes(model, data.x)).argmax(1).numpy()
            labels = data.y.numpy()
            out["dec_ari"] = float(adjusted_rand_score(labels, own))
            out["dec_nmi"] = float(normalized_mutual_info_score(labels, own))
        return out
