"""The Model contract: an ``nn.Module`` with the hooks the Trainer and the tools may call.

Every hook is a documented no-op here, and what a model can do beyond ``forward`` is declared
in ``tags``, so the Trainer, explanations and ``embed`` never probe a model for methods.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

# The tags a model may declare (``Model.tags``).
MODEL_TAGS = {
    "attention": "attention_maps(x) gives its attention weights (explanations draw them)",
    "embeds": "pooled_features(x) gives the features its head sees (pretrained models)",
    "elbo": "elbo_terms(x) gives reconstruction, mean and log-variance (a VAE)",
}


class Model(nn.Module):
    """Base of every registered model."""

    tags: ClassVar[frozenset[str]] = frozenset()
    # The exported graph's free axes (ONNX dynamic axes): the batch; an acoustic model's
    # frames too, as clips have any length.
    export_axes: ClassVar[dict[str, dict[int, str]]] = {
        "input": {0: "batch"},
        "output": {0: "batch"},
    }

    def param_groups(self) -> Any:
        """What the optimizer trains: all parameters in one group; pretrained models give
        groups with their own ``lr_scale``."""
        return self.parameters()

    def resolved_params(self) -> dict[str, Any]:
        """The parameters its builder chose for this data where the config left them open
        (None): saved in the run's model.json, so a later change of a default never changes
        how a trained run's model is rebuilt."""
        return {}

    def on_epoch_start(self, epoch: int) -> None:
        """Called at each epoch's start (a function of the epoch alone, so resume stays exact):
        which pretrained layers train."""

    def exported_part(self) -> nn.Module:
        """The part of the network an exported graph holds: all of it by default. A detector
        exports its dense part (images → scores and box offsets at every location); decoding
        the boxes and their NMS stay in Python, as a task's code does."""
        return self

    def export_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the exported part is traced and checked on, made from the data's inputs: the
        inputs themselves by default; a translation model stacks each source with the prefix
        it writes."""
        return x

    def around_exported(self, runtime: nn.Module) -> nn.Module:
        """This model with its exported part run by ``runtime`` (an ONNX session behind the
        nn.Module interface): the runtime itself by default."""
        return runtime

    def cam_layer(self) -> nn.Module | None:
        """The layer Grad-CAM looks at: the last 2-D convolution, or None without one. A
        detector names its backbone's last (its heads' convolutions see no class gradient)."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        return convs[-1] if convs else None

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, layers, heads, T, T) attention weights (models tagged ``attention``)."""
        raise NotImplementedError(f"{type(self).__name__} has no attention")

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """The features the head sees (models tagged ``embeds``)."""
        raise NotImplementedError(f"{type(self).__name__} does not embed")
