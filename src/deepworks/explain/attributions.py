"""Attribution methods on top of Captum, one registry entry per method.

Every method takes the model, a batch of encoded inputs and the output index to explain, and
returns attributions shaped like the input — for token ids, one score per token (summed over
the embedding) — plus, where the method has one, Captum's convergence delta per input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from deepworks.core.errors import ConfigError
from deepworks.core.registry import Registry

# Integrated gradients: steps of the path integral (Gauss-Legendre, Captum's default rule).
IG_STEPS = 64


@dataclass
class Method:
    attribute: Callable[[nn.Module, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, ...]]
    inputs: tuple[str, ...]  # the kinds of model input it explains (Encoder.inputs)
    needs_conv: bool = False  # Grad-CAM looks at the last convolution


METHODS: Registry[Method] = Registry("explanation method", ConfigError)
PIXELS = ("image", "spectrogram")  # inputs Grad-CAM can map back onto: (C, H, W)
FLOATS = ("image", "spectrogram", "table", "series")  # inputs with a gradient of their own


def _register(name: str, inputs: tuple[str, ...], help: str, needs_conv: bool = False):
    def decorator(fn):
        METHODS.register(name, help=help)(Method(fn, inputs, needs_conv))
        return fn

    return decorator


def embedding_layer(model: nn.Module) -> nn.Embedding:
    """Token models explain through their (first) token embedding."""
    return next(m for m in model.modules() if isinstance(m, nn.Embedding))


def last_conv(model: nn.Module) -> nn.Module | None:
    """The layer Grad-CAM looks at, as the model names it (``Model.cam_layer``)."""
    return model.cam_layer()


def token_baseline(ids: torch.Tensor, unk: int) -> torch.Tensor:
    """Every real token replaced by the unknown token, padding kept: the same lengths (models
    trim padding) with the words' information gone."""
    return torch.where(ids != 0, torch.full_like(ids, unk), ids)


@_register("integrated-gradients", (*FLOATS, "tokens"), "path integral from a blank input")
def integrated_gradients(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, unk: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attributions and the completeness gap: sum(attributions) − (F(x) − F(baseline)).

    Float inputs start from zeros (the training mean: inputs are standardized); token inputs
    from the unknown token at every real position."""
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    if x.dtype == torch.long:
        method = LayerIntegratedGradients(model, embedding_layer(model))
        attr, delta = method.attribute(
            x,
            baselines=token_baseline(x, unk),
            target=target,
            n_steps=IG_STEPS,
            internal_batch_size=len(x) * 8,
            return_convergence_delta=True,
        )
        scores = attr.sum(-1)  # one score per token; models that trim padding give fewer
        return torch.nn.functional.pad(scores, (0, x.shape[1] - scores.shape[1])), delta
    attr, delta = IntegratedGradients(model).attribute(
        x,
        baselines=torch.zeros_like(x),
        target=target,
        n_steps=IG_STEPS,
        internal_batch_size=len(x) * 8,
        return_convergence_delta=True,
    )
    return attr, delta


@_register("saliency", FLOATS, "absolute input gradient")
def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor, unk: int = 1):
    from captum.attr import Saliency

    return (Saliency(model).attribute(x.clone().requires_grad_(), target=target, abs=True),)


@_register("grad-cam", PIXELS, "class activation of the last convolution", needs_conv=True)
def grad_cam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, unk: int = 1):
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(model, last_conv(model)).attribute(x, target=target, relu_attributions=True)
    cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return (cam.expand(-1, x.shape[1], -1, -1),)


def available(model: nn.Module, inputs: str) -> list[str]:
    """The methods that apply to this model and its kind of input, in registry order."""
    return [
        e.name
        for e in METHODS
        if inputs in e.obj.inputs and (not e.obj.needs_conv or last_conv(model) is not None)
    ]


def check_methods(model: nn.Module, inputs: str, chosen: list[str] | None) -> list[str]:
    fits = available(model, inputs)
    if not chosen:
        return fits
    for name in chosen:
        METHODS.get(name)  # an unknown name: the registry's message, with suggestions
        if name not in fits:
            raise ConfigError(
                f"explanation method `{name}` does not apply to this model of {inputs} inputs; "
                f"ones that do: {', '.join(fits)}"
            )
    return chosen
