"""Data augmentation, for the training split only and reproducible from the seed.

Each training batch is augmented under its own seed, a function of (run seed, epoch, the
batch's first example), inside ``torch.random.fork_rng``: an augmented run repeats exactly,
resumes exactly, and leaves the global random stream (dropout's) untouched.

Each kind of data registers its augmentation with the `data.augment` keys it reads
(``modalities/<kind>/augment.py``); a key set for another kind of data is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from deepworks.config import AugmentConfig
from deepworks.core.errors import ConfigError
from deepworks.core.schema import Schema
from deepworks.data.datasets import Data

Batch = tuple[torch.Tensor, torch.Tensor]
# make(cfg, schema) → augment(data, indices): the augmented batch of those examples
MakeAugment = Callable[[AugmentConfig, Schema], Callable[[Dataset, Sequence[int]], Batch]]


@dataclass(frozen=True)
class Augmenter:
    keys: tuple[str, ...]  # the `data.augment` keys it reads
    make: MakeAugment
    on_tensors: bool = True  # it augments encoded tensors (not raw data its dataset keeps)


AUGMENTERS: dict[str, Augmenter] = {}


def register_augmenter(modality: str, keys: tuple[str, ...], on_tensors: bool = True):
    """Register ``make(cfg, schema)`` as the augmentation of ``modality`` data;
    ``on_tensors=False`` when it starts from raw data (waveforms) its own dataset keeps."""

    def decorator(make: MakeAugment) -> MakeAugment:
        AUGMENTERS[modality] = Augmenter(keys, make, on_tensors)
        return make

    return decorator


def augments_tensors(schema: Schema) -> bool:
    """Whether this data's augmentation works on encoded tensors (so on any TensorData)."""
    augmenter = AUGMENTERS.get(schema.modality)
    return augmenter is None or augmenter.on_tensors


def on_batches(augment: Callable[[Batch], Batch]) -> Callable[[Dataset, Sequence[int]], Batch]:
    """An augmentation of whole batches as they come from the data."""
    return lambda data, indices: augment(data.__getitems__(indices))


class AugmentedData(Data):
    """Wraps the training data; ``set_epoch`` (called by the Trainer) varies the draws.

    ``augment(data, indices)`` makes the augmented batch: most take the batch as it comes;
    some start from raw data the wrapped dataset keeps.
    """

    def __init__(
        self, data: Dataset, augment: Callable[[Dataset, Sequence[int]], Batch], seed: int
    ) -> None:
        self.data, self.augment, self.seed, self.epoch = data, augment, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_003 + int(indices[0]))
            return self.augment(self.data, indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([i])
        return x[0], y[0]

    def __getattr__(self, name: str):  # x, y, ... of the wrapped data
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)


def augmented(data: Dataset, cfg: AugmentConfig, schema: Schema, seed: int) -> Dataset:
    """``data`` with the configured augmentation, or as it is when none is set."""
    chosen = cfg.model_dump(exclude_defaults=True)
    if not chosen:
        return data
    augmenter = AUGMENTERS.get(schema.modality)
    own = augmenter.keys if augmenter else ()
    foreign = [k for k in chosen if k not in own]
    if foreign or augmenter is None:
        raise ConfigError(
            f"data.augment.{(foreign or list(chosen))[0]} does not apply to {schema.modality} "
            f"data. For {schema.modality}: {', '.join(own) or 'none yet'}"
        )
    return AugmentedData(data, augmenter.make(cfg, schema), seed)
