"""Batches for training and evaluation: whole batches at a time, never the global RNG."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset

from deepworks.data.datasets import (
    EpochSampler,
    TensorBatches,
    TensorData,
    batch_cuts,
    collate_batch,
)
from deepworks.train.distributed import ShardedBatchSampler


class NoLoneBatch(BatchSampler):
    """Batches in order, a last batch of one example joined to the one before: batch norm
    cannot train on a single example, and every example still comes once an epoch."""

    def __iter__(self):
        held = None
        for batch in super().__iter__():
            if held is not None:
                if len(batch) == 1:
                    batch = held + batch
                else:
                    yield held
            held = batch
        if held is not None:
            yield held

    def __len__(self) -> int:
        return len(batch_cuts(len(self.sampler), self.batch_size)) - 1  # the same rule


def make_loader(
    dataset: Dataset,
    batch_size: int,
    num_workers: int = 0,
    sampler: EpochSampler | None = None,
    shard: tuple[int, int] = (0, 1),
    bucket: bool = False,
) -> DataLoader:
    """A loader that fetches whole batches and never touches the global RNG; with ``shard``
    (rank, processes) > 1 process, this rank's share of every batch."""
    sampler = sampler or EpochSampler(len(dataset), seed=0, shuffle=False)
    rank, size = shard
    if isinstance(dataset, TensorData) and num_workers == 0 and size == 1:
        return TensorBatches(dataset, sampler, batch_size, bucket)  # type: ignore[return-value]
    batches = (
        ShardedBatchSampler(sampler, batch_size, rank, size)
        if size > 1
        else NoLoneBatch(sampler, batch_size, drop_last=False)
    )
    return DataLoader(
        dataset,
        batch_sampler=batches,
        collate_fn=collate_batch,
        num_workers=num_workers,
        generator=torch.Generator(),
    )
