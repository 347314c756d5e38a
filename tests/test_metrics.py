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
def test_threshold_scores_equal_torchmetrics_binned_and_near_scikit_learn_exact(classes):
    """ROC AUC and average precision from the threshold histogram: torchmetrics' binned
    values with the same 200 thresholds, and within 0.01 of scikit-learn's exact ones."""
    from torchmetrics.classification import MulticlassAUROC, MulticlassAveragePrecision

    from deepworks.metrics.roc import ThresholdScores

    torch.manual_seed(classes)
    auroc = MulticlassAUROC(classes, average="macro", thresholds=200)
    ap = MulticlassAveragePrecision(classes, average="macro", thresholds=200)
    ours = ThresholdScores(classes)
    ys, probas = [], []
    for _ in range(5):
        y = torch.randint(0, classes, (300,))
        logits = torch.randn(300, classes) + 2.0 * torch.nn.functional.one_hot(y, classes)
        proba = logits.softmax(-1)
        proba[:5] = 1.0 / classes  # ties on a threshold's edge
        for metric in (auroc, ap, ours):
            metric.update(proba, y)
        ys.append(y), probas.append(proba)
    scores = ours.compute()
    assert scores["roc_auc"].item() == pytest.approx(auroc.compute().item(), abs=1e-6)
    assert scores["pr_auc"].item() == pytest.approx(ap.compute().item(), abs=1e-6)
    y, proba = torch.cat(ys).numpy(), torch.cat(probas).numpy()
    if classes == 2:
        exact_auc = skm.roc_auc_score(y, proba[:, 1])
    else:
        exact_auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    onehot = np.eye(classes)[y]
    exact_ap = np.mean(
        [skm.average_precision_score(onehot[:, c], proba[:, c]) for c in range(classes)]
    )
    assert scores["roc_auc"].item() == pytest.approx(exact_auc, abs=0.01)
    assert scores["pr_auc"].item() == pytest.approx(exact_ap, abs=0.01)
    assert 0.8 < scores["roc_auc"].item() < 1.0
    ours.reset()  # back to empty: one batch alone gives that batch's scores
    ours.update(probas[0], ys[0])
    first = MulticlassAUROC(classes, average="macro", thresholds=200)(probas[0], ys[0])
    assert ours.compute()["roc_auc"].item() == pytest.approx(first.item(), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_one_pass_scores_equal_torchmetrics_and_scikit_learn(seed):
    """Accuracy, balanced accuracy and macro precision / recall / F1 from one confusion matrix,
    over two batches, with a class that never occurs and one that is never predicted."""
    from sklearn import metrics as skm
    from torchmetrics.classification import (
        MulticlassAccuracy,
        MulticlassConfusionMatrix,
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
    per_class = MulticlassF1Score(n, average="none")(probs, target)
    assert torch.allclose(scores["f1_per_class"], per_class, atol=1e-6)
    matrix = MulticlassConfusionMatrix(n)(probs, target)
    assert torch.equal(scores["confusion_matrix"], matrix)
    for name, metric in reference.items():
        assert scores[name].item() == pytest.approx(metric.compute().item(), abs=1e-6), name
    predicted = probs.argmax(1).numpy()
    assert scores["accuracy"].item() == pytest.approx(skm.accuracy_score(target, predicted))
    present = sorted(set(target.tolist()) | set(predicted.tolist()))
    f1 = skm.f1_score(target, predicted, labels=present, average="macro", zero_division=0)
    assert scores["f1"].item() == pytest.approx(f1, abs=1e-6)


def test_the_calibration_error_equals_torchmetrics_top_label_ece():
    from torchmetrics.classification import MulticlassCalibrationError

    from deepworks.metrics.calibration import BINS, expected_calibration_error

    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 4, (500,), generator=g)
    proba = (torch.randn(500, 4, generator=g) * 2).softmax(-1)
    proba[:3] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # a confidence of exactly 1
    theirs = MulticlassCalibrationError(4, n_bins=BINS, norm="l1")(proba, y).item()
    assert expected_calibration_error(proba, y) == pytest.approx(theirs, abs=1e-6)
    assert expected_calibration_error(proba, y) > 0.05


def test_the_error_sums_equal_torchmetrics_over_batches():
    """Every error kind from one set of sums, one forecaster's column picked, horizons
    flattened; a constant target scores R² as scikit-learn does."""
    from torchmetrics import regression as tm

    from deepworks.metrics.errors import ErrorScores

    g = torch.Generator().manual_seed(0)
    target = torch.randn(200, 3, generator=g) * 10 + 5
    preds = torch.stack([target + torch.randn(200, 3, generator=g), torch.zeros(200, 3)], -1)
    names = {k: k for k in ("mse", "rmse", "mae", "r2", "mape", "smape")} | {"m": "mase"}
    ours = ErrorScores(names, column=0, mase_scale=2.0)
    for part in (slice(0, 70), slice(70, 200)):
        ours.update(preds[part], target[part])
    got = ours.compute()
    p, y = preds[..., 0].reshape(-1), target.reshape(-1)
    reference = {
        "mse": tm.MeanSquaredError()(p, y),
        "rmse": tm.MeanSquaredError(squared=False)(p, y),
        "mae": tm.MeanAbsoluteError()(p, y),
        "r2": tm.R2Score()(p, y),
        "mape": tm.MeanAbsolutePercentageError()(p, y),
        "smape": tm.SymmetricMeanAbsolutePercentageError()(p, y),
        "m": tm.MeanAbsoluteError()(p, y) / 2.0,
    }
    for name, value in reference.items():
        assert got[name].item() == pytest.approx(value.item(), rel=1e-5), name
    constant = ErrorScores({"r2": "r2"})
    constant.update(torch.ones(5), torch.ones(5))
    assert constant.compute()["r2"].item() == 1.0
    constant.update(torch.zeros(5), torch.ones(5))
    assert constant.compute()["r2"].item() == 0.0
    with pytest.raises(ValueError, match="unknown error kinds"):
        ErrorScores({"x": "msee"})


def _half(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The labels and predictions process ``rank`` sees."""
    g = torch.Generator().manual_seed(rank)
    return torch.randint(0, 3, (50,), generator=g), torch.randint(0, 3, (50,), generator=g)


def _sum_in_two_processes(rank: int, path: str, out: str) -> None:
    import torch.distributed as dist

    from deepworks.metrics.confusion import ConfusionScores

    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=2)
    metric = ConfusionScores(3)
    metric.update(*_half(rank))
    scores = metric.compute()
    local = metric.matrix.sum().item()  # the local state is kept after the sync
    torch.save({"matrix": scores["confusion_matrix"], "local": local}, f"{out}.{rank}")
    dist.destroy_process_group()


def test_stream_metrics_add_their_states_across_processes(tmp_path):
    """Two gloo processes each see half the rows: both compute the scores of all of them."""
    import torch.multiprocessing as mp

    from deepworks.metrics.confusion import ConfusionScores

    out = str(tmp_path / "scores")
    mp.spawn(_sum_in_two_processes, args=(str(tmp_path / "rendezvous"), out), nprocs=2)
    whole = ConfusionScores(3)
    for rank in (0, 1):
        g = torch.Generator().manual_seed(rank)
        preds, target = (
            torch.randint(0, 3, (50,), generator=g),
            torch.randint(0, 3, (50,), generator=g),
        )
        whole.update(preds, target)
    for rank in (0, 1):
        got = torch.load(f"{out}.{rank}")
        assert torch.equal(got["matrix"], whole.compute()["confusion_matrix"])
        assert got["local"] == 50
