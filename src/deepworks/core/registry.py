"""A small name → object registry, shared by datasets, models, tasks, analyses and the rest.

Registering by name (as timm's ``@register_model`` does) lets the YAML name a thing, the CLI list
them, and the tests parametrize over every entry without anyone remembering to add a case.

A registry with a ``plugins`` group also takes entries from other installed packages: each
Python entry point in that group (``[project.entry-points."deepworks.models"]``) names a module
that registers its entries when imported. They load the first time the registry is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Generic, TypeVar

from deepworks.core.errors import DeepworksError, did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    help: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Named entries of one kind. ``kind`` names them in error messages ("model", "dataset");
    ``plugins`` is the entry-point group other packages register through."""

    def __init__(
        self, kind: str, error: type[DeepworksError] = DeepworksError, plugins: str | None = None
    ) -> None:
        self.kind = kind
        self.error = error
        self.plugins = plugins
        self._entries: dict[str, Entry[T]] = {}
        self._plugins_loaded = plugins is None

    def register(self, name: str, help: str = "", **meta: Any) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} `{name}` is registered twice")
            first_doc_line = ((getattr(obj, "__doc__", None) or "").strip().splitlines() or [""])[0]
            self._entries[name] = Entry(name, obj, help or first_doc_line, meta)
            return obj

        return decorator

    def entry(self, name: str) -> Entry[T]:
        entries = self._all()
        try:
            return entries[name]
        except KeyError:
            known = ", ".join(sorted(entries))
            raise self.error(
                f"unknown {self.kind} `{name}`.{did_you_mean(name, entries)} "
                f"Known {self.kind}s: {known}."
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[Entry[T]]:
        entries = self._all()
        return iter(entries[n] for n in sorted(entries))

    def _all(self) -> dict[str, Entry[T]]:
        if not self._plugins_loaded:
            self._plugins_loaded = True  # first: a plugin may read the registry it fills
            for point in metadata.entry_points(group=self.plugins or ""):
                try:
                    point.load()
                except Exception as exc:  # a broken plugin is named, not a traceback
                    raise self.error(
                        f"the {self.kind} plugin `{point.name}` ({point.value}) failed to load: "
                        f"{type(exc).__name__}: {exc}. Fix or uninstall that package."
                    ) from exc
        return self._entries
