"""The pieces every config section shares: the strict base section and the name checks that
run when a loader passes the registries."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationInfo,
)

from deepworks.core.errors import DeepworksError
from deepworks.core.registry import Registry

# kind ("dataset", "model", ...) → its registry; what a loader passes as validation context.
Registries = Callable[[str], Registry]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _registries(info: ValidationInfo) -> Registries | None:
    return (info.context or {}).get("registries")


def _check_registered(kind: str, name: str, info: ValidationInfo) -> str:
    """Validate ``name`` against the registry of ``kind`` when the loader gave the
    registries; the message lists close names."""
    registries = _registries(info)
    if registries is not None:
        try:
            registries(kind).entry(name)
        except DeepworksError as exc:
            raise ValueError(str(exc)) from None
    return name
