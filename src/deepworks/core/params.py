"""Parameter dataclasses (a model's, an analysis's) filled from plain dicts, type-checked."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError


def parse_params(params_cls: type, params: dict[str, Any], owner: str) -> Any:
    """Build ``params_cls`` from ``params``, type-checked by pydantic; a wrong value raises a
    ValueError naming ``owner`` and the field.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class P:
    ...     width: int = 8
    >>> parse_params(P, {"width": "16"}, "model `x`").width
    16
    """
    try:
        return TypeAdapter(params_cls).validate_python(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{owner} parameter `{where}`: {err['msg']}") from None
