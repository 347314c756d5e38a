"""The streaming metrics agree with scikit-learn computed on all predictions at once."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch import nn

from deepworks.core.schema import Schema
from deepworks.data.datasets import TensorData
from deepworks.metrics.evaluator import evaluate
from deepworks.tasks import get_task
from deepworks.train.loader import make_loader


class Fixed(nn.Module):
    """Returns precomputed outputs row by row (the input is the row index)."""

    def __init__(self, outputs: torch.Tensor) -> None:
        super().__init__()
        self.outputs = outputs

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.outputs[index.long().squeeze(-1)]


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    n, k = 500, 3
    y = torch.as_tensor(rng.integers(0, k, n))
    logits = torch.as_tensor(rng.normal(size=(n, k)), dtype=torch.float32)
    logits[torch.arange(n), y] += 1.0  # better than chance, not perfect
    schema = Schema("table", "classification", (1,), "y", classes=["a", "b", "c"])
    data = TensorData(torch.arange(n, dtype=torch.float32)[:, None], y)
    got = evaluate(Fixed(logits), get_task(schema), make_loader(data, batch_size=37))
    proba = logits.softmax(-1).numpy()
    pred = proba.argmax(1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-6)
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-6)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-6)
    assert got["precision"] == pytest.approx(
        skm.precision_score(y, pred, average="macro"), abs=1e-6
    )
    assert list(got["f1_per_class"].values()) == pytest.approx(
        skm.f1_score(y, pred, average=None), abs=1e-6
    )
    assert got["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    # ROC AUC is binned (constant memory): close to the exact value, not equal.
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"), abs=0.01)
    assert got["loss"] == pytest.approx(skm.log_loss(y, proba), abs=1e-5)


def test_regression_metrics_match_sklearn_in_real_units():
    rng = np.random.default_rng(1)
    n = 300
    y = torch.as_tensor(rng.normal(100, 20, n), dtype=torch.float32)
    pred = y + torch.as_tensor(rng.normal(0, 5, n), dtype=torch.float32)
    mean, std = 100.0, 20.0
    schema = Schema("table", "regression", (1,), "y", target_scale=(mean, std))
    outputs = ((pred - mean) / std)[:, None]
    data = TensorData(torch.arange(n, dtype=torch.float32)[:, None], y)
    got = evaluate(Fixed(outputs), get_task(schema), make_loader(data, batch_size=64))
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-4)
    assert got["rmse"] == pytest.approx(skm.mean_squared_error(y, pred) ** 0.5, rel=1e-4)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-4)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-4)


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_histogram_roc_auc_keeps_torchmetrics_state_exactly(classes):
    """Our update of the binned ROC AUC: the very state (and value) torchmetrics computes."""
    from torchmetrics.classification import MulticlassAUROC

    from deepworks.metrics.roc import HistogramAUROC

    torch.manual_seed(classes)
    theirs = MulticlassAUROC(classes, average="macro", thresholds=200)
    ours = HistogramAUROC(classes, average="macro", thresholds=200)
    for _ in range(5):
        y = torch.randint(0, classes, (300,))
        logits = torch.randn(300, classes) + 2.0 * torch.nn.functional.one_hot(y, classes)
        logits[:5] = torch.tensor(float(classes))  # ties on a threshold's edge
        theirs.update(logits, y)
        ours.update(logits, y)
    assert torch.equal(ours.confmat, theirs.confmat)
    assert float(ours.compute()) == pytest.approx(float(theirs.compute()), abs=1e-7)
    assert 0.8 < float(ours.compute()) < 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_the_one_pass_scores_equal_torchmetrics_and_scikit_learn(seed):
    """Accuracy, balanced accuracy and macro precision / recall / F1 from one confusion matrix,
    over two batches, with a class that never occurs and one that is never predicted."""
    from sklearn import metrics as skm
    from torchmetrics.classification import (
        MulticlassAccuracy,
        MulticlassF1Score,
        MulticlassPrecision,
        MulticlassRecall,
    )

    from deepworks.metrics.confusion import ConfusionScores

    g = torch.Generator().manual_seed(seed)
    n = 5
    target = torch.randint(0, 4, (300,), generator=g)  # class 4 never occurs
    probs = torch.rand(300, n, generator=g)
    probs[:, 3] = 0  # class 3 is never predicted
    ours = ConfusionScores(n)
    reference = {
        "accuracy": MulticlassAccuracy(n, average="micro"),
        "balanced_accuracy": MulticlassRecall(n, average="macro"),
        "precision": MulticlassPrecision(n, average="macro"),
        "recall": MulticlassRecall(n, average="macro"),
        "f1": MulticlassF1Score(n, average="macro"),
    }
    for part in (slice(0, 120), slice(120, 300)):
        ours.update(probs[part], target[part])
        for metric in reference.values():
            metric.update(probs[part], target[part])
    scores = ours.compute()
    for name, metric in reference.items():
        assert scores[name].item() == pytest.approx(metric.compute().item(), abs=1e-6), name
    predicted = probs.argmax(1).numpy()
    assert scores["accuracy"].item() == pytest.approx(skm.accuracy_score(target, predicted))
    present = sorted(set(target.tolist()) | set(predicted.tolist()))
    f1 = skm.f1_score(target, predicted, labels=present, average="macro", zero_division=0)
    assert scores["f1"].item() == pytest.approx(f1, abs=1e-6)
