"""A small name → object registry, shared by datasets, models, tasks, optimizers and schedulers.

Registering by name (as timm's ``@register_model`` does) lets the YAML name a thing, the CLI list
them, and the tests parametrize over every entry without anyone remembering to add a case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from deepworks.errors import DeepworksError, did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    help: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Named entries of one kind. ``kind`` names them in error messages ("model", "dataset")."""

    def __init__(self, kind: str, error: type[DeepworksError] = DeepworksError) -> None:
        self.kind = kind
        self.error = error
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, help: str = "", **meta: Any) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} `{name}` is registered twice")
            first_doc_line = ((getattr(obj, "__doc__", None) or "").strip().splitlines() or [""])[0]
            self._entries[name] = Entry(name, obj, help or first_doc_line, meta)
            return obj

        return decorator

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise self.error(
                f"unknown {self.kind} `{name}`.{did_you_mean(name, self._entries)} "
                f"Known {self.kind}s: {known}."
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())
