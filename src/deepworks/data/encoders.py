"""Encoders by kind: each kind of data registers its encoder class, and a run's saved encoder
(JSON) is rebuilt from its ``kind`` alone, with nothing unpickled."""

from __future__ import annotations

from typing import Any

from deepworks.core.encoder import Encoder
from deepworks.core.errors import RunError
from deepworks.core.registry import Registry

ENCODERS: Registry[type[Encoder]] = Registry("encoder", RunError, plugins="deepworks.modalities")


def register_encoder(kind: str):
    """Register an Encoder class under the ``kind`` its saved state carries."""
    return ENCODERS.register(kind)


def inputs_of(encoder_state: dict[str, Any]) -> str:
    """What a saved encoder's model inputs are (``Encoder.inputs``)."""
    kind = encoder_state.get("kind")
    return ENCODERS.get(kind).inputs if kind in ENCODERS else ""


def encoder_from_dict(state: dict[str, Any]) -> Encoder:
    """The encoder a run saved, rebuilt from its JSON state."""
    return ENCODERS.get(state.get("kind", "")).from_dict(dict(state))
