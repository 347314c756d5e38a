"""How sure a classifier is, and how far to trust it.

- Expected calibration error (ECE): the gap between confidence and accuracy, averaged over
  15 equal-width confidence bins, each weighted by its share of the examples (torchmetrics'
  top-label definition; a test holds the two equal).
- Temperature scaling (Guo et al. 2017): one scalar T, fit on the validation split's logits by
  minimizing the negative log-likelihood; softmax(logits / T) is then better calibrated while
  every prediction stays the same.
- Selective prediction: the lowest confidence threshold whose predictions, on validation, are
  right at least `target` of the time; below it, defer to a human. Test reports its coverage
  (share of examples answered) and precision (accuracy of the answered ones).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

BINS = 15


def expected_calibration_error(proba: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over bins of |accuracy − mean confidence| × the bin's share of the examples."""
    confidence, label = proba.float().max(dim=1)
    right = label.eq(y).float()
    edges = torch.linspace(0, 1, BINS + 1)
    bins = torch.bucketize(confidence, edges, right=True) - 1  # a confidence of 1: bin 15, empty
    count = torch.zeros(BINS + 1).scatter_add_(0, bins, torch.ones_like(confidence))
    gap = torch.zeros(BINS + 1).scatter_add_(0, bins, right - confidence)
    return float(gap.abs().sum() / count.sum())


# Temperatures beyond these say the validation split cannot calibrate (e.g. every answer right
# and confident: the NLL falls forever as T → 0); the fit stops at the bound instead.
T_RANGE = (0.05, 20.0)


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The T in ``T_RANGE`` that minimizes NLL(softmax(logits / T), y)."""
    low, high = (float(np.log(t)) for t in T_RANGE)
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def nll() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.clamp(low, high).exp(), y)
        loss.backward()
        return loss

    optimizer.step(nll)
    value = float(log_t.detach().clamp(low, high).exp())
    return value if np.isfinite(value) else 1.0


def selective_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest confidence whose answers (confidence ≥ it) reach ``target`` precision;
    above 1 when none does (then every example is referred)."""
    order = np.argsort(-confidence, kind="stable")
    precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(precision >= target)
    if len(ok) == 0:
        return float("inf")
    return float(confidence[order][ok[-1]])


def coverage_and_precision(
    confidence: np.ndarray, correct: np.ndarray, threshold: float
) -> tuple[float, float]:
    answered = confidence >= threshold
    coverage = float(answered.mean())
    return coverage, float(correct[answered].mean()) if answered.any() else float("nan")
