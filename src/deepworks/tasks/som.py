"""Training a self-organizing map: no gradients, no optimizer; the map updates itself.

Quality: the quantization error (mean distance of an input to its best-matching unit) and the
topographic error (share of inputs whose two best units are not grid neighbours). Where labels
exist, the map also clusters: k-means groups its units into one cluster per class, each input
takes its BMU's cluster, and ARI / NMI compare that with the labels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from deepworks.core.batch import Batch
from deepworks.core.task import Task, register_task

if TYPE_CHECKING:
    from deepworks.core.metric import StreamMetric


@register_task("som")
class SelfOrganizing(Task):
    """Fit a self-organizing map to the data (labels, if any, are only used to evaluate)."""

    main_metric = "quantization_error"
    final_metric_names = ("som_ari", "som_nmi")
    automatic_optimization = False
    tags = frozenset({"embeds"})
    reads_data_as = "auto"  # labels, if any, only evaluate the map
    lower_is_better = frozenset({"loss", "quantization_error", "topographic_error"})
    epoch_metrics = frozenset({"quantization_error", "topographic_error"})

    def on_fit_start(self, model: nn.Module, total_steps: int, train: Any = None) -> None:
        model.total_steps.fill_(max(total_steps, 1))

    def configure_optimizers(self, model, build):
        return []

    def training_step(self, model: nn.Module, batch: Batch) -> float:
        return model.update(batch.x)

    def evaluation_step(self, model: nn.Module, batch: Batch):
        x, y = batch
        best2 = model.distances(x).topk(2, dim=1, largest=False)
        first, second = model.grid[best2.indices[:, 0]], model.grid[best2.indices[:, 1]]
        apart = (first - second).abs().amax(1) > 1  # not among the 8 grid neighbours
        preds = torch.stack([best2.values[:, 0], apart.float()], dim=1)
        return best2.values[:, 0].mean(), preds, y

    def metric_factories(self) -> dict[str, Callable[[], StreamMetric]]:
        from deepworks.metrics.streams import MeanColumn

        return {
            "quantization_error": lambda: MeanColumn(0),
            "topographic_error": lambda: MeanColumn(1),
        }

    def predict(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        position = model.encode(x)
        error = model.distances(x).min(dim=1).values
        return {
            "bmu_row": position[:, 0].long(),
            "bmu_col": position[:, 1].long(),
            "quantization_error": error,
        }

    @torch.inference_mode()
    def codes(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return model.encode(x)

    def final_metrics(self, model: nn.Module, bundle: Any, seed: int = 0) -> dict[str, dict]:
        if not self.schema.classes:
            return {}
        from sklearn.cluster import KMeans
        from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

        k = len(self.schema.classes)
        unit_cluster = KMeans(k, n_init=10, random_state=seed).fit_predict(model.weights.numpy())
        out = {}
        for split in ("valid", "test"):
            data = getattr(bundle, split)
            clusters = unit_cluster[model.bmu(data.x).numpy()]
            labels = data.y.numpy()
            out[split] = {
                "som_ari": float(adjusted_rand_score(labels, clusters)),
                "som_nmi": float(normalized_mutual_info_score(labels, clusters)),
            }
        return out

    def plots(self, model: nn.Module, bundle: Any, folder: Path, metrics: dict) -> None:
        from deepworks import plots

        hits = np.bincount(model.bmu(bundle.train.x).numpy(), minlength=len(model.grid))
        plots.som_maps(
            model.u_matrix().numpy(),
            hits.reshape(model.p.rows, model.p.cols),
            folder / "som.png",
        )
