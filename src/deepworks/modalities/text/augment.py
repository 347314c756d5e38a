"""Text augmentation: tokens replaced by <unk> and neighbours swapped, on the token ids."""

from __future__ import annotations

from collections.abc import Callable

import torch

from deepworks.config import AugmentConfig
from deepworks.core.schema import Schema
from deepworks.data.augment import Batch, on_batches, register_augmenter


@register_augmenter("text", ("token_dropout", "swap"))
def text_augment(cfg: AugmentConfig, schema: Schema):
    return on_batches(_text(cfg, schema))


def _text(cfg: AugmentConfig, schema: Schema) -> Callable[[Batch], Batch]:
    vocab = schema.encoder.get("vocab", [])
    unknown = vocab.index("[UNK]") if "[UNK]" in vocab else 1  # deepworks' own <unk> is 1

    def augment(batch: Batch) -> Batch:
        x, y = batch
        x = x.clone()
        real = x != 0
        if cfg.token_dropout:
            x[real & (torch.rand(x.shape) < cfg.token_dropout)] = unknown
        if cfg.swap:  # swap token i with i + 1 where both are real and i is drawn
            pick = (torch.rand(x.shape) < cfg.swap) & real
            pick[:, -1] = False
            pick[:, :-1] &= real[:, 1:]
            pick[:, 1:] &= ~pick[:, :-1]  # no token takes part in two swaps
            rows, cols = pick.nonzero(as_tuple=True)
            left, right = x[rows, cols].clone(), x[rows, cols + 1].clone()
            x[rows, cols], x[rows, cols + 1] = right, left
        return x, y

    return augment
