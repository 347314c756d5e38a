"""The batch every loop passes around: inputs and targets of any shape the data needs.

A supervised table batch is two tensors; a detection batch carries a list of box tensors of
different lengths per image; a translation batch carries dicts of token tensors. ``Batch``
holds any nesting of tensors, dicts, lists and tuples, and ``.to(device)`` moves all of it, so
the Trainer, the evaluation and prediction never assume ``(x, y)`` tensors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

# What a batch may hold: a tensor, or dicts / lists / tuples of them (nested); other values
# (strings, ids) ride along untouched.
Payload = Any


def move(value: Payload, device: torch.device, non_blocking: bool = False) -> Payload:
    """``value`` with every tensor inside it on ``device`` (the structure is kept)."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=non_blocking)
    if isinstance(value, dict):
        return {k: move(v, device, non_blocking) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(move(v, device, non_blocking) for v in value)
    return value


def size(value: Payload) -> int:
    """How many examples ``value`` holds: a tensor's first dimension, a list's length, or
    the size of a dict's first entry."""
    if isinstance(value, torch.Tensor):
        return len(value)
    if isinstance(value, dict):
        return size(next(iter(value.values())))
    if isinstance(value, list | tuple):
        return len(value)
    raise TypeError(f"cannot tell the batch size of {type(value).__name__}")


@dataclass
class Batch:
    """Inputs ``x`` and targets ``y`` of one batch; either may be a tensor, a dict of tensors
    or a list of variable-size tensors. Unpacks as ``x, y = batch``.

    >>> b = Batch(torch.zeros(3, 2), [torch.zeros(1, 4), torch.zeros(0, 4), torch.zeros(2, 4)])
    >>> len(b), [t.shape[0] for t in b.to(torch.device("cpu")).y]
    (3, [1, 0, 2])
    """

    x: Payload
    y: Payload = None

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        return Batch(move(self.x, device, non_blocking), move(self.y, device, non_blocking))

    def __len__(self) -> int:
        return size(self.x)

    def __iter__(self) -> Iterator[Payload]:
        return iter((self.x, self.y))

    @classmethod
    def of(cls, value: Batch | tuple | list) -> Batch:
        """A Batch from what a dataset returned: a Batch already, or an (x, y) pair."""
        if isinstance(value, Batch):
            return value
        x, y = value
        return cls(x, y)

    @classmethod
    def loaded(cls, value: Batch | tuple | list, device: torch.device) -> Batch:
        """A loader's batch on ``device``. Loaders give CPU tensors, so on the CPU it is used
        as is: a small model's every step would otherwise rebuild it for nothing."""
        batch = cls.of(value)
        return batch if device.type == "cpu" else batch.to(device, non_blocking=True)


def concat(parts: list[Payload]) -> Payload:
    """Batches of the same structure joined along the first dimension (tensors concatenated,
    dicts key by key, lists extended)."""
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(parts)
    if isinstance(first, dict):
        return {k: concat([p[k] for p in parts]) for k in first}
    if isinstance(first, list | tuple):
        return type(first)(v for p in parts for v in p)
    raise TypeError(f"cannot join batches of {type(first).__name__}")


def shape_key(value: Payload) -> Any:
    """What must match for two batches to be joined: every tensor's shape past the first
    dimension, and its dtype."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape[1:]), value.dtype)
    if isinstance(value, dict):
        return tuple((k, shape_key(v)) for k, v in value.items())
    return type(value).__name__
