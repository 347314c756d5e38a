"""Torch datasets over in-memory tensors and image files.

``TensorData`` implements ``__getitems__`` so a DataLoader fetches a whole batch with one
indexing operation instead of stacking samples one by one: on small models that per-sample
collation would otherwise dominate the step time.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch.utils.data import Dataset, Sampler


class Data(Dataset):
    """Base of deepworks' datasets: whole batches through ``__getitems__``, and
    ``set_epoch`` (called by the Trainer at each epoch's start; a no-op unless the data draws
    anew each epoch, as augmentation does)."""

    def set_epoch(self, epoch: int) -> None:
        """Called at each epoch's start; the draws must be a function of the epoch alone."""

    def __getitems__(self, indices: Sequence[int]):
        raise NotImplementedError


class TensorData(Data):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} targets")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices)
        return self.x[idx], self.y[idx]


def spread_sample(data: Dataset, size: int | None) -> Dataset:
    """``size`` examples spread evenly over the dataset (all of it when smaller or None)."""
    if size is None or len(data) <= size:  # type: ignore[arg-type]
        return data
    idx = torch.linspace(0, len(data) - 1, size).long()  # type: ignore[arg-type]
    if isinstance(data, TensorData):
        return TensorData(data.x[idx], data.y[idx])
    return torch.utils.data.Subset(data, idx.tolist())


def first_rows(data: Dataset, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``limit`` (default: all) examples of a dataset as two tensors."""
    n = len(data) if limit is None else min(len(data), limit)
    return data.__getitems__(list(range(n)))  # type: ignore[attr-defined]


def collate_batch(batch):
    """Batches arrive already stacked from ``__getitems__``; pass them through."""
    return batch


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch ``epoch``: a function of (seed, epoch) alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


class EpochSampler(Sampler[int]):
    """A shuffled order that depends only on (seed, epoch), and can start mid-epoch.

    That is what makes resuming exact: a run killed at step k of epoch e restarts with the
    same permutation for epoch e and skips the k batches it had already trained on.
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        return epoch_permutation(self.n, self.seed, self.epoch)

    def __iter__(self):
        # In chunks: a list of a million Python ints would be ~36 MB held through the epoch.
        for chunk in self.order()[self.start :].split(65_536):
            yield from chunk.tolist()

    def __len__(self) -> int:
        return self.n - self.start


class TensorBatches:
    """What a DataLoader yields over a ``TensorData`` in this process, without its per-batch
    Python: each batch is a slice of the epoch's order indexing the tensors directly. The
    batches are the DataLoader's own (the sampler's order and start, a lone last example
    joined to the batch before), so curves and resumes do not change.

    With ``bucket`` (token ids, padding 0: texts, or sentence pairs stacked as (n, 2, width)
    and measured by their longer side), each pool of ``POOL`` batches of the epoch's order
    is sorted by length before it is cut, the batches are shuffled by (seed, epoch), and each
    is cut to its longest text: what a batch holds and in which order is still a function of
    the epoch, and a resumed epoch skips the batches it already trained."""

    POOL = 50  # batches sorted together: similar lengths, yet still a shuffled epoch

    def __init__(
        self, data: TensorData, sampler: EpochSampler, batch_size: int, bucket: bool = False
    ) -> None:
        self.data, self.sampler, self.batch_size = data, sampler, batch_size
        self.generator = torch.Generator()  # as a DataLoader has; nothing here draws from it
        tokens = bucket and data.x.dim() in (2, 3) and not data.x.is_floating_point()
        lengths = (data.x != 0).sum(-1) if tokens else None
        self.lengths = lengths.amax(1) if lengths is not None and lengths.dim() == 2 else lengths

    def _batches(self) -> list[torch.Tensor]:
        if self.lengths is None:
            order = self.sampler.order()[self.sampler.start :]
            return [
                order[a:b] for a, b in itertools.pairwise(batch_cuts(len(order), self.batch_size))
            ]
        order, size = self.sampler.order(), self.batch_size
        batches = []
        for pool in order.split(size * self.POOL):
            ranked = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches += [ranked[a:b] for a, b in itertools.pairwise(batch_cuts(len(ranked), size))]
        shuffle = torch.Generator().manual_seed(self.sampler.seed * 7_919 + self.sampler.epoch)
        batches = [batches[i] for i in torch.randperm(len(batches), generator=shuffle)]
        return batches[self.sampler.start // size :]

    def __iter__(self):
        for idx in self._batches():
            x = self.data.x[idx]
            if self.lengths is not None:
                x = x[..., : max(int(self.lengths[idx].max()), 1)]
            yield x, self.data.y[idx]

    def __len__(self) -> int:
        if self.lengths is None:
            return len(batch_cuts(len(self.sampler), self.batch_size)) - 1
        return len(self._batches())


def batch_cuts(n: int, size: int) -> list[int]:
    """Batch boundaries over n examples; a lone last example joins the batch before (batch
    norm cannot train on one example)."""
    cuts = [*range(0, n, size), n]
    if n % size == 1 and n > size:
        del cuts[-2]
    return cuts
