"""Running means and scores of deepworks' own, on sums reduced across processes: imported when
a task builds its metrics, never to load a task."""

from __future__ import annotations

import torch

from deepworks.core.metric import StreamMetric


class MeanColumn(StreamMetric):
    """The running mean of one column of the predictions."""

    def __init__(self, column: int) -> None:
        super().__init__()
        self.column = column
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64))
        self.add_state("count", torch.tensor(0, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.total += preds[:, self.column].double().sum()
        self.count += len(preds)

    def value(self) -> torch.Tensor:
        return (self.total / self.count).float()


class StdColumn(MeanColumn):
    """The running (population) standard deviation of one column of the predictions."""

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.add_state("squares", torch.tensor(0.0, dtype=torch.float64))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update(preds, target)
        self.squares += preds[:, self.column].double().square().sum()

    def value(self) -> torch.Tensor:
        mean = self.total / self.count
        return (self.squares / self.count - mean**2).clamp(min=0).sqrt().float()


class ClassifierScore(StreamMetric):
    """The Inception Score, streamed: needs only Σ p·log p and Σ p over the samples."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("plogp", torch.tensor(0.0, dtype=torch.float64))
        self.add_state("marginal", torch.zeros(0, dtype=torch.float64))
        self.add_state("count", torch.tensor(0, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        p = preds.double().clamp_min(1e-12)
        self.plogp += (p * p.log()).sum()
        self.marginal = p.sum(0) if self.marginal.numel() == 0 else self.marginal + p.sum(0)
        self.count += len(p)

    def value(self) -> torch.Tensor:
        mean = self.marginal / self.count
        return (self.plogp / self.count - (mean * mean.log()).sum()).exp().float()


class UnigramPerplexity(StreamMetric):
    """Perplexity of the context-free unigram model on the evaluated tokens."""

    def __init__(self, counts: list[int]) -> None:
        super().__init__()
        counts_t = torch.as_tensor(counts, dtype=torch.float64) + 1.0  # add-one smoothing
        self.register_buffer("log_probs", (counts_t / counts_t.sum()).log())
        self.add_state("nll", torch.tensor(0.0, dtype=torch.float64))
        self.add_state("tokens", torch.tensor(0, dtype=torch.long))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.nll -= self.log_probs[target.reshape(-1)].sum()
        self.tokens += target.numel()

    def value(self) -> torch.Tensor:
        return (self.nll / self.tokens).exp().float()
