"""The model registry: ``@register_model("name", params=Dataclass)`` on a factory.

A factory takes the data's ``Schema`` and its parameter dataclass and returns an ``nn.Module``
sized for that data (input channels or features, image size, number of outputs).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from torch import nn

from deepworks.core.errors import ModelError
from deepworks.core.params import parse_params
from deepworks.core.registry import Registry
from deepworks.core.schema import Schema

Factory = Callable[[Schema, Any], nn.Module]
MODELS: Registry[Factory] = Registry("model", ModelError, plugins="deepworks.models")


def register_model(
    name: str,
    params: type,
    modalities: tuple[str, ...],
    help: str = "",
    *,
    tasks: tuple[str, ...],
    tokenizer: Callable[[dict], str] | None = None,
    data_needs: dict[str, Any] | None = None,
    auto: list[dict[str, Any]] | None = None,
):
    """Register a model factory with its parameter dataclass, the kinds of data and the tasks
    it does; ``tokenizer(params)`` names the tokenizer a pretrained text model needs its data
    in; ``data_needs`` are `data.` settings the model cannot work without (a wav2vec2 reads
    the waveform, not a spectrogram); ``auto`` are the settings `model: auto` tries it with.
    The factory returns a :class:`deepworks.core.Model`."""
    return MODELS.register(
        name, help=help, params=params, modalities=modalities, tasks=tasks, tokenizer=tokenizer,
        data_needs=data_needs or {}, auto=auto or [],
    )  # fmt: skip


def build_model(
    name: str, params: dict[str, Any], schema: Schema, pretrained: bool = True
) -> nn.Module:
    """Build a registered model for ``schema``; ``pretrained=False`` skips loading pretrained
    weights (a saved run's own weights are about to replace them).

    >>> from deepworks.core.schema import Schema
    >>> schema = Schema("table", "classification", (4,), "y", classes=["a", "b", "c"])
    >>> build_model("mlp", {"hidden": [8]}, schema)(__import__("torch").zeros(2, 4)).shape
    torch.Size([2, 3])
    """
    entry = MODELS.entry(name)
    fits = ", ".join(
        e.name
        for e in MODELS
        if schema.modality in e.meta["modalities"] and schema.task in e.meta["tasks"]
    )
    if schema.modality not in entry.meta["modalities"]:
        raise ModelError(
            f"model `{name}` does not take {schema.modality} data; models that do: {fits}"
        )
    if schema.task not in entry.meta["tasks"]:
        raise ModelError(f"model `{name}` does not do {schema.task}; models that do: {fits}")
    try:
        parsed = parse_params(entry.meta["params"], params, f"model `{name}`")
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    from deepworks.models.transfer import without_pretrained_weights

    try:  # a value its layers refuse (a dropout of 2) is the config's mistake, said as such
        if pretrained:
            return entry.obj(schema, parsed)
        with without_pretrained_weights():
            return entry.obj(schema, parsed)
    except ValueError as exc:
        given = ", ".join(f"{k}: {v!r}" for k, v in params.items()) or "its defaults"
        raise ModelError(f"model `{name}` cannot be built with {given}: {exc}") from None


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


def activation(name: str) -> nn.Module:
    from deepworks.core.errors import did_you_mean

    if name not in ACTIVATIONS:
        raise ModelError(
            f"unknown activation `{name}`.{did_you_mean(name, ACTIVATIONS)} "
            f"Known: {', '.join(ACTIVATIONS)}."
        )
    return ACTIVATIONS[name]()


def dense_stack(sizes: list[int], act: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """Linear → activation → dropout between each pair of consecutive sizes."""
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), activation(act), nn.Dropout(dropout)]
    return nn.Sequential(*layers)
