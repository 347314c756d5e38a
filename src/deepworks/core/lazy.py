"""A module imported on first use, for libraries that most commands never touch.

``pd = lazy_module("pandas")`` reads as ``import pandas as pd``, but the import happens when an
attribute is first read (most runs never read a table, and pandas costs half a second to load).
The import system's own locks keep that first read safe from several threads.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class _LazyModule(types.ModuleType):
    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later reads find everything here directly
        return getattr(module, attribute)


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""
    return _LazyModule(name)
