"""Smaller models: int8 weights (onnxruntime's dynamic quantization) and magnitude pruning.

Dynamic quantization stores the weights of matrix products, LSTMs, convolutions and
embeddings as int8 and quantizes activations on the fly, so it needs no calibration data;
it is what shrinks dense and recurrent models about four times. (``torch.ao.quantization`` is
deprecated upstream.) Pruning zeroes the smallest weights across all layers at once (global
L1 magnitude); dense files keep their size, so the card reports how many weights are zero.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from torch import nn
from torch.nn.utils import prune

from deepworks.train.checkpoint import atomic_write

# Layers whose weights pruning may zero.
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.LSTM, nn.GRU, nn.RNN, nn.Embedding)


def quantize_int8(source: Path, target: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger("root").setLevel(logging.ERROR)  # the quantizer's advice on preprocessing
    atomic_write(
        target, lambda part: quantize_dynamic(str(source), str(part), weight_type=QuantType.QInt8)
    )
    return target


def pruned(model: nn.Module, amount: float) -> tuple[nn.Module, float]:
    """A copy of ``model`` with the ``amount`` share of its prunable weights (smallest |w|
    first, across layers) set to zero; returns it and the share of all weights now zero."""
    copy_ = copy.deepcopy(model)
    targets = [
        (module, name)
        for module in copy_.modules()
        if isinstance(module, PRUNABLE)
        for name, p in module.named_parameters(recurse=False)
        if name.startswith("weight") and p.requires_grad
    ]
    if targets:
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
        for module, name in targets:
            prune.remove(module, name)  # bake the mask into the weight
    weights = list(copy_.parameters())
    zeros = sum(int((p == 0).sum()) for p in weights)
    total = sum(p.numel() for p in weights)
    return copy_.eval(), zeros / max(total, 1)


def sparse_bytes(model: nn.Module) -> int:
    """What the weights would take stored sparsely (values + int32 indices of the non-zeros)."""
    return sum(
        int((t != 0).sum()) * (t.element_size() + 4)
        if t.is_floating_point()
        else t.numel() * t.element_size()
        for t in model.state_dict().values()
    )
